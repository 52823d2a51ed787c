// The backbone models: shapes on two input sizes, forward + backward, exact parameter counts, attention placement,
// stage selection, option A shortcuts, aliases, and the MAC counter.
#include <attncnn/attention/registry.h>
#include <attncnn/attention/sgate.h>
#include <attncnn/error.h>
#include <attncnn/models/aliases.h>
#include <attncnn/models/cifar_resnet.h>
#include <attncnn/models/info.h>
#include <attncnn/models/model.h>
#include <attncnn/models/residual_attention.h>
#include <attncnn/models/resnet.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

using namespace attncnn;

namespace {
int64_t count_params(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
ModelConfig make_cfg(const std::string& name, const std::string& attn = "none", int64_t classes = 10,
                     const std::string& model_params = "", int64_t in_channels = 3) {
  ModelConfig c;
  c.name = name;
  c.attn = attn;
  c.num_classes = classes;
  c.in_channels = in_channels;
  c.model_params = Params::parse(model_params);
  return c;
}
int64_t params_of(const std::string& name, const std::string& attn = "none", int64_t classes = 10,
                  const std::string& model_params = "") {
  return count_params(*create_model(make_cfg(name, attn, classes, model_params)));
}
bool has_attention(const std::string& name) {
  const auto names = attention_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}
// Dotted names of the attention modules under `m`, in module order.
std::vector<std::string> attention_sites(torch::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& item : m.named_modules("", /*include_self=*/false))
    if (dynamic_cast<AttentionImpl*>(item.value().get())) out.push_back(item.key());
  return out;
}
// Forward on two sizes (train mode), a backward on the first; every parameter gets a gradient.
void check_forward_backward(const ModelConfig& cfg, int64_t h1, int64_t h2, bool all_grads = true) {
  SCOPED_TRACE(cfg.name + " attn=" + cfg.attn + " " + cfg.model_params.to_string());
  torch::manual_seed(0);
  auto net = create_model(cfg);
  net->train();
  auto y = net->forward(torch::randn({2, cfg.in_channels, h1, h1}));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, cfg.num_classes}));
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  torch::nn::functional::cross_entropy(y, torch::tensor({0, 1})).backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    if (all_grads) EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  net->eval();
  torch::NoGradGuard g;
  EXPECT_EQ(net->forward(torch::randn({1, cfg.in_channels, h2, h2})).sizes(),
            (std::vector<int64_t>{1, cfg.num_classes}));
}
}  // namespace

TEST(CifarResNet, ExactParameterCounts) {
  // Hand count for resnet20 (option A): stem 3·16·9 + 32; stage 1: 3 blocks × 2 × (16·16·9 + 32); stage 2:
  // (16·32·9 + 64) + (32·32·9 + 64) + 2 × 2 × (32·32·9 + 64); stage 3 likewise with 64; fc 64·10 + 10.
  const int64_t stage1 = 3 * 2 * (16 * 16 * 9 + 32);
  const int64_t stage2 = (16 * 32 * 9 + 64) + (32 * 32 * 9 + 64) + 4 * (32 * 32 * 9 + 64);
  const int64_t stage3 = (32 * 64 * 9 + 128) + (64 * 64 * 9 + 128) + 4 * (64 * 64 * 9 + 128);
  const int64_t r20 = 3 * 16 * 9 + 32 + stage1 + stage2 + stage3 + 64 * 10 + 10;
  EXPECT_EQ(r20, 269722);
  EXPECT_EQ(params_of("resnet20"), 269722);
  EXPECT_EQ(params_of("resnet32"), 464154);
  EXPECT_EQ(params_of("resnet44"), 658586);
  EXPECT_EQ(params_of("resnet56"), 853018);
  EXPECT_EQ(params_of("resnet110"), 1727962);
  // Option B adds two projections: 1×1 conv + BN, 16→32 and 32→64.
  EXPECT_EQ(params_of("resnet20", "none", 10, "shortcut=B"), 269722 + (16 * 32 + 64) + (32 * 64 + 128));
}

TEST(CifarResNet, OptionAShortcutHasNoParametersAndPadsWithZeros) {
  // A block 16 → 32 with stride 2 and option A: only the two convs and BNs hold parameters, and the shortcut of a
  // zeroed residual path is the subsampled input with zero channels on both sides.
  BasicBlock block(16, 32, 2, ShortcutKind::Pad, nullptr);
  EXPECT_EQ(count_params(*block), (16 * 32 * 9 + 64) + (32 * 32 * 9 + 64));
  EXPECT_FALSE(block->downsample);
  for (const auto& p : block->named_parameters())
    EXPECT_TRUE(p.key().rfind("conv", 0) == 0 || p.key().rfind("bn", 0) == 0) << p.key();
  block->eval();
  {
    torch::NoGradGuard g;
    block->bn2->weight.zero_();
    block->bn2->bias.zero_();
  }
  auto x = torch::rand({1, 16, 5, 5});
  auto y = block->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 32, 3, 3}));
  for (int64_t c = 0; c < 32; ++c)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 3; ++j) {
        const double expect = (c >= 8 && c < 24) ? x[0][c - 8][2 * i][2 * j].item<double>() : 0.0;
        EXPECT_NEAR(y[0][c][i][j].item<double>(), expect, 1e-6) << c << "," << i << "," << j;
      }
}

TEST(CifarResNet, ForwardBackwardOnCifarAndMnistSizes) {
  for (const char* name : {"resnet20", "resnet32"}) {
    check_forward_backward(make_cfg(name, "sgate"), 32, 28);
    check_forward_backward(make_cfg(name, "none", 10, "", 1), 28, 32);
  }
  check_forward_backward(make_cfg("resnet20", "none", 7, "shortcut=B"), 16, 9);
  ModelConfig head = make_cfg("resnet20", "sgate");
  head.head = "attnpool";
  head.head_params = Params::parse("num_heads=2");
  check_forward_backward(head, 32, 28);
}

TEST(CifarResNet, AttentionPlacementAndStageSelection) {
  auto net = create_model(make_cfg("resnet20", "sgate"));
  const auto sites = attention_sites(*net);
  ASSERT_EQ(sites.size(), 9u);
  EXPECT_EQ(sites.front(), "layer1.0.se");
  EXPECT_EQ(sites.back(), "layer3.2.se");
  // Each sgate adds (C·C + C) + (C + 1) parameters for C = 16, 32, 64 (3 blocks each).
  int64_t extra = 0;
  for (int64_t c : {16, 32, 64}) extra += 3 * ((c * c + c) + (c + 1));
  EXPECT_EQ(count_params(*net), 269722 + extra);
  auto only3 = create_model(make_cfg("resnet20", "sgate", 10, "attn_stages=3"));
  const auto s3 = attention_sites(*only3);
  ASSERT_EQ(s3.size(), 3u);
  for (const auto& s : s3) EXPECT_EQ(s.rfind("layer3.", 0), 0u) << s;
  EXPECT_EQ(attention_sites(*create_model(make_cfg("resnet20", "sgate", 10, "attn_stages=1,3"))).size(), 6u);
  EXPECT_THROW(create_model(make_cfg("resnet20", "sgate", 10, "attn_stages=4")), Error);
  EXPECT_THROW(create_model(make_cfg("resnet20", "sgate", 10, "attn_stages=x")), Error);
  EXPECT_THROW(create_model(make_cfg("resnet20", "attnpool")), Error);
  EXPECT_THROW(create_model(make_cfg("resnet20", "none", 10, "shortcut=C")), Error);
  EXPECT_THROW(create_model(make_cfg("resnet20", "none", 10, "width=3")), Error);
}

TEST(CifarResNet, GateSitsBeforeTheAddition) {
  // A gate forced to zero removes the residual path: each block then passes relu(shortcut) on. With every gate
  // closed, the network output does not depend on the residual convs of any block.
  auto net = std::dynamic_pointer_cast<CifarResNetImpl>(create_model(make_cfg("resnet20", "sgate")));
  ASSERT_TRUE(net);
  net->eval();
  torch::NoGradGuard g;
  for (const auto& m : net->modules(false))
    if (auto* s = dynamic_cast<SGateImpl*>(m.get())) s->conv2->bias.fill_(-1e4);
  auto x = torch::randn({2, 3, 16, 16});
  auto before = net->forward(x);
  for (const auto& p : net->named_parameters())
    if (p.key().rfind("layer", 0) == 0 && p.key().find(".se.") == std::string::npos) p.value().normal_();
  EXPECT_TRUE(torch::allclose(before, net->forward(x), 1e-5, 1e-5));
}

TEST(ResNet, TorchvisionParameterCountsAndNames) {
  // Known totals with 1000 classes: torchvision resnet18 11,689,512; resnet34 21,797,672; resnet50 25,557,032;
  // resnet101 44,549,160.
  EXPECT_EQ(params_of("resnet18", "none", 1000), 11689512);
  EXPECT_EQ(params_of("resnet34", "none", 1000), 21797672);
  EXPECT_EQ(params_of("resnet50", "none", 1000), 25557032);
  EXPECT_EQ(params_of("resnet101", "none", 1000), 44549160);
  // timm's resnet50d: the deep stem (3·32·9 + 64 + 32·32·9 + 64 + 32·64·9) replaces the 7×7 conv (3·64·49);
  // the average-pool shortcut has the same parameters as the strided one.
  EXPECT_EQ(params_of("resnet50", "none", 1000, "stem=deep,avg_down=1"),
            25557032 - 3 * 64 * 49 + (3 * 32 * 9 + 64 + 32 * 32 * 9 + 64 + 32 * 64 * 9));
  EXPECT_EQ(params_of("resnet50d", "none", 1000), 25576264);
  auto net = create_model(make_cfg("resnet50", "none", 10));
  auto keys = net->named_parameters().keys();
  for (const char* k : {"conv1.weight", "bn1.weight", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight",
                        "layer1.0.downsample.1.weight", "layer4.2.bn3.bias", "fc.weight", "fc.bias"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  auto bkeys = net->named_buffers().keys();
  EXPECT_NE(std::find(bkeys.begin(), bkeys.end(), "layer2.0.bn1.running_mean"), bkeys.end());
  EXPECT_NE(std::find(bkeys.begin(), bkeys.end(), "layer2.0.bn1.num_batches_tracked"), bkeys.end());
  auto d = create_model(make_cfg("resnet50", "none", 10, "stem=deep,avg_down=1,layers=1,1,1,1"));
  auto dkeys = d->named_parameters().keys();
  for (const char* k : {"conv1.0.weight", "conv1.1.weight", "conv1.3.weight", "conv1.4.bias", "conv1.6.weight",
                        "bn1.weight", "layer1.0.downsample.1.weight", "layer1.0.downsample.2.weight",
                        "layer2.0.downsample.1.weight"})
    EXPECT_NE(std::find(dkeys.begin(), dkeys.end(), k), dkeys.end()) << k;
  EXPECT_EQ(std::find(dkeys.begin(), dkeys.end(), "layer2.1.conv1.weight"), dkeys.end());
}

TEST(ResNet, TimmAttentionCountsWhenModulesExist) {
  if (!has_attention("se")) GTEST_SKIP() << "attention module 'se' is not registered in this build";
  EXPECT_EQ(params_of("resnet50", "se", 1000), 28088024);
  EXPECT_EQ(params_of("seresnet50", kDefaultAttention, 1000), 28088024);
  EXPECT_EQ(params_of("seresnet50", "se", 1000), 28088024);  // naming the alias's own module is no conflict
  auto net = create_model(make_cfg("seresnet50", kDefaultAttention, 10));
  auto keys = net->named_parameters().keys();
  EXPECT_NE(std::find(keys.begin(), keys.end(), "layer3.1.se.fc1.weight"), keys.end());
}

TEST(ResNet, EcaResNet50dCountWhenEcaExists) {
  if (!has_attention("eca")) GTEST_SKIP() << "attention module 'eca' is not registered in this build";
  // timm's ECA kernel sizes for 256/512/1024/2048 channels are 5/5/5/7 (no bias): 3·5 + 4·5 + 6·5 + 3·7 = 86.
  EXPECT_EQ(params_of("ecaresnet50d", kDefaultAttention, 1000), 25576264 + 86);
}

TEST(ResNet, AttentionSitsAfterLastNormUnderTimmName) {
  auto net = create_model(make_cfg("resnet18", "sgate", 10, "stem=cifar,attn_stages=2,4"));
  const auto sites = attention_sites(*net);
  EXPECT_EQ(sites, (std::vector<std::string>{"layer2.0.se", "layer2.1.se", "layer4.0.se", "layer4.1.se"}));
  auto b = create_model(make_cfg("resnet50", "sgate", 10, "layers=1,1,1,1"));
  const auto bs = attention_sites(*b);
  ASSERT_EQ(bs.size(), 4u);
  // The Bottleneck's gate sees the expanded width: sgate's first conv is C → C with C = 4·planes.
  auto keys = b->named_parameters();
  EXPECT_EQ(keys["layer1.0.se.conv1.weight"].sizes(), (std::vector<int64_t>{256, 256, 1, 1}));
  EXPECT_EQ(keys["layer4.0.se.conv1.weight"].sizes(), (std::vector<int64_t>{2048, 2048, 1, 1}));
}

TEST(ResNet, ForwardBackwardOnSmallInputs) {
  check_forward_backward(make_cfg("resnet18", "sgate", 10, "stem=cifar"), 32, 28);
  check_forward_backward(make_cfg("resnet18", "none", 5, "", 1), 64, 72);
  check_forward_backward(make_cfg("resnet50", "sgate", 10, "layers=1,1,1,1,stem=deep,avg_down=1"), 64, 80);
  check_forward_backward(make_cfg("resnet26", "none", 10, "stem=cifar"), 32, 28);
  check_forward_backward(make_cfg("resnet34", "none", 10, "stem=cifar,attn_stages=4"), 32, 16);
  EXPECT_THROW(create_model(make_cfg("resnet50", "none", 10, "layers=1,1,1")), Error);
  EXPECT_THROW(create_model(make_cfg("resnet50", "none", 10, "stem=huge")), Error);
}

TEST(ResNet, LargestModelsForwardOnce) {
  torch::NoGradGuard g;
  for (const char* name : {"resnet50", "resnet101"}) {
    auto net = create_model(make_cfg(name, "none", 10, "stem=cifar"));
    net->eval();
    EXPECT_EQ(net->forward(torch::randn({1, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 10})) << name;
  }
}

TEST(PreActAndWide, ParameterCountsAndForward) {
  // preact_resnet18: 3×3 stem 3·64·9; blocks (bn1, conv1, bn2, conv2) with 1×1 shortcut convs where the width
  // changes; final BN; fc.
  auto block = [](int64_t in, int64_t out) {
    return 2 * in + in * out * 9 + 2 * out + out * out * 9 + (in != out ? in * out : 0);
  };
  int64_t pre = 3 * 64 * 9;
  int64_t in = 64;
  for (int64_t w : {64, 128, 256, 512}) {
    pre += block(in, w) + block(w, w);
    in = w;
  }
  pre += 2 * 512 + 512 * 10 + 10;
  EXPECT_EQ(params_of("preact_resnet18"), pre);
  // WRN-d-k: n = (d−4)/6 blocks per stage, widths 16k/32k/64k.
  auto wrn = [&](int64_t d, int64_t k) {
    const int64_t n = (d - 4) / 6;
    int64_t total = 3 * 16 * 9, c = 16;
    for (int64_t w : {16 * k, 32 * k, 64 * k}) {
      total += block(c, w) + (n - 1) * block(w, w);
      c = w;
    }
    return total + 2 * c + c * 10 + 10;
  };
  EXPECT_EQ(params_of("wrn28_10"), wrn(28, 10));
  EXPECT_EQ(wrn(28, 10), 36479194);  // 36.5M, as in the paper's table
  EXPECT_EQ(params_of("wrn16_8"), wrn(16, 8));
  EXPECT_EQ(params_of("wrn40_4"), wrn(40, 4));
  check_forward_backward(make_cfg("preact_resnet18", "sgate"), 32, 28);
  check_forward_backward(make_cfg("wrn16_8", "sgate", 10, "dropout=0.3", 1), 28, 32);
  EXPECT_EQ(attention_sites(*create_model(make_cfg("wrn16_8", "sgate", 10, "attn_stages=2"))),
            (std::vector<std::string>{"layer2.0.attn", "layer2.1.attn"}));
  torch::NoGradGuard g;
  auto big = create_model(make_cfg("wrn28_10"));
  big->eval();
  EXPECT_EQ(big->forward(torch::randn({1, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 10}));
}

TEST(MobileNetV2, TorchvisionCountNamesAndForward) {
  EXPECT_EQ(params_of("mobilenet_v2", "none", 1000), 3504872);
  auto net = create_model(make_cfg("mobilenet_v2", "sgate", 10, "attn_stages=1,7"));
  auto keys = net->named_parameters().keys();
  for (const char* k : {"features.0.0.weight", "features.0.1.weight", "features.1.conv.0.0.weight",
                        "features.1.conv.1.weight", "features.1.conv.2.weight", "features.2.conv.0.0.weight",
                        "features.2.conv.1.0.weight", "features.2.conv.2.weight", "features.2.conv.3.bias",
                        "features.18.0.weight", "classifier.1.weight"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  // Stage 1 is features.1 (32 hidden channels), stage 7 is features.17 (960 hidden channels).
  EXPECT_EQ(attention_sites(*net), (std::vector<std::string>{"features.1.attn", "features.17.attn"}));
  EXPECT_EQ(net->named_parameters()["features.17.attn.conv1.weight"].size(1), 960);
  check_forward_backward(make_cfg("mobilenet_v2", "sgate", 10, "stem=cifar,dropout=0"), 32, 28);
  check_forward_backward(make_cfg("mobilenet_v2", "none", 10, "", 1), 64, 65);
}

TEST(ResidualAttention, MaskBranchesAreAttentionModules) {
  auto net = create_model(make_cfg("attention56", "none", 10, "stem=cifar"));
  const auto sites = attention_sites(*net);
  EXPECT_EQ(sites, (std::vector<std::string>{"stage1.1.mask", "stage2.1.mask", "stage3.1.mask"}));
  EXPECT_EQ(attention_sites(*create_model(make_cfg("attention92", "none", 10, "stem=cifar"))).size(), 6u);
  // mask=0 removes exactly the mask branches.
  auto naive = create_model(make_cfg("attention56", "none", 10, "stem=cifar,mask=0"));
  EXPECT_TRUE(attention_sites(*naive).empty());
  int64_t mask_params = 0;
  for (const auto& p : net->named_parameters())
    if (p.key().find(".mask.") != std::string::npos) mask_params += p.value().numel();
  EXPECT_EQ(count_params(*naive), count_params(*net) - mask_params);
  EXPECT_GT(mask_params, 0);

  // Map recording finds the masks, with values of a sigmoid.
  set_record_maps(*net, true);
  net->eval();
  {
    torch::NoGradGuard g;
    auto x = torch::randn({2, 3, 32, 32});
    net->forward(x);
    const auto maps = collect_maps(*net);
    ASSERT_EQ(maps.size(), 6u);  // spatial + channel per mask
    EXPECT_EQ(maps[0].layer, "stage1.1.mask");
    EXPECT_EQ(maps[0].type, "softmask");
    EXPECT_EQ(maps[0].map.value.sizes(), (std::vector<int64_t>{2, 1, 32, 32}));
    EXPECT_EQ(maps[1].map.value.sizes(), (std::vector<int64_t>{2, 256}));
    EXPECT_GT(maps[0].map.value.min().item<double>(), 0.0);
    EXPECT_LT(maps[0].map.value.max().item<double>(), 1.0);
  }
}

TEST(ResidualAttention, ForwardBackwardAndSoftMaskAlone) {
  check_forward_backward(make_cfg("attention56", "sgate", 10, "stem=cifar,attn_stages=4"), 16, 20);
  {
    torch::NoGradGuard g;
    auto big = create_model(make_cfg("attention92", "none", 10, "stem=cifar"));
    big->eval();
    EXPECT_EQ(big->forward(torch::randn({1, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 10}));
  }
  // As a standalone module the soft mask branch returns (1 + M) ⊙ x with M in (0, 1).
  SoftMaskBranch m(8, 2);
  m->eval();
  torch::NoGradGuard g;
  auto x = torch::rand({2, 8, 9, 9}) + 0.1;
  auto mask = m->mask(x);
  EXPECT_EQ(mask.sizes(), x.sizes());
  EXPECT_TRUE(torch::allclose(m->forward(x), (1 + mask) * x));
  auto ratio = m->forward(x) / x;
  EXPECT_GT(ratio.min().item<double>(), 1.0);
  EXPECT_LT(ratio.max().item<double>(), 2.0);
}

TEST(Aliases, ResolveAndBuild) {
  const ModelAlias* a = find_model_alias("seresnet50");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->model, "resnet50");
  EXPECT_EQ(a->attn, "se");
  EXPECT_EQ(find_model_alias("resnet50"), nullptr);
  ModelConfig c = make_cfg("ecaresnet50d", kDefaultAttention, 10, "layers=1,1,1,1,stem=cifar");
  const ModelConfig r = resolve_model_aliases(c);
  EXPECT_EQ(r.name, "resnet50");
  EXPECT_EQ(r.attn, "eca");
  EXPECT_EQ(r.model_params.get_string("stem", ""), "cifar");  // the caller's option wins
  EXPECT_EQ(r.model_params.get_string("avg_down", ""), "1");
  EXPECT_EQ(r.model_params.get_string("layers", ""), "1,1,1,1");
  EXPECT_EQ(resolve_model_aliases(make_cfg("cbam_resnet20", kDefaultAttention)).name, "resnet20");
  EXPECT_EQ(resolve_model_aliases(make_cfg("cbam_resnet20", kDefaultAttention)).attn, "cbam");
  EXPECT_EQ(resolve_model_aliases(make_cfg("se_resnet110", "se")).attn, "se");
  // Not an alias: only "default" is replaced, by the standard module.
  EXPECT_EQ(resolve_model_aliases(make_cfg("resnet50", kDefaultAttention)).attn, "sgate");
  EXPECT_EQ(resolve_model_aliases(make_cfg("resnet50", "eca")).attn, "eca");
  EXPECT_EQ(resolve_model_aliases(make_cfg("resnet50", "eca")).name, "resnet50");
  // Aliases are registry aliases of the model they name, not models of their own.
  const auto names = model_names();
  const auto reg_aliases = model_registry().aliases();
  ASSERT_EQ(reg_aliases.size(), model_aliases().size());
  for (const auto& al : model_aliases()) {
    EXPECT_EQ(std::find(names.begin(), names.end(), al.alias), names.end()) << al.alias;
    EXPECT_NE(std::find(names.begin(), names.end(), al.model), names.end()) << al.model;
    EXPECT_TRUE(model_registry().is_alias(al.alias)) << al.alias;
    EXPECT_EQ(model_registry().canonical(al.alias), al.model);
  }
  for (const char* n : {"seresnet18", "seresnet34", "seresnet50", "seresnet101", "ecaresnet18", "ecaresnet50",
                        "ecaresnet101", "ecaresnet50d", "resnet26d", "cbam_resnet20", "se_resnet20", "eca_resnet56"})
    EXPECT_NE(find_model_alias(n), nullptr) << n;
  // A built alias reports its resolved config, so a checkpoint rebuilds it without the alias.
  auto d = create_model(make_cfg("resnet26d", kDefaultAttention));
  EXPECT_EQ(d->config().name, "resnet26");
  EXPECT_EQ(d->config().attn, "none");
  EXPECT_EQ(d->config().model_params.get_string("stem", ""), "deep");
  EXPECT_EQ(count_params(*d), count_params(*create_model(ModelConfig::from_json(d->config().to_json()))));
  if (!has_attention("se")) {
    try {
      create_model(make_cfg("se_resnet20", kDefaultAttention));
      FAIL() << "expected an unknown-attention error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("se"), std::string::npos);
    }
  } else {
    check_forward_backward(make_cfg("se_resnet20", kDefaultAttention), 32, 28);
  }
}

// The attention module an alias name spells, read from the name itself (timm's naming), independently of the
// alias table: seresnet50 / se_resnet20 -> se, ecaresnet50d / eca_resnet56 -> eca, cbam_resnet20 -> cbam,
// resnet26d -> none.
std::string module_spelled_by(const std::string& alias) {
  for (const char* prefix : {"cbam_", "eca_", "se_"})
    if (alias.rfind(prefix, 0) == 0) return std::string(prefix).substr(0, std::string(prefix).size() - 1);
  if (alias.rfind("ecaresnet", 0) == 0) return "eca";
  if (alias.rfind("seresnet", 0) == 0) return "se";
  return "none";
}

TEST(Aliases, EveryAliasBuildsTheModuleItNames) {
  for (const auto& al : model_aliases()) {
    SCOPED_TRACE(al.alias);
    const std::string attn = module_spelled_by(al.alias);
    if (attn != "none" && !has_attention(attn)) continue;
    // The ImageNet ResNets at one block per stage and narrow channels, so that 30-odd models build in seconds.
    const bool imagenet = model_entry(al.model).input[1] == 224;
    ModelConfig c = make_cfg(al.alias, kDefaultAttention, 10, imagenet ? "layers=1,1,1,1,channels=8,16,32,64" : "");
    const ModelConfig r = resolve_model_aliases(c);
    EXPECT_EQ(r.attn, attn);
    EXPECT_EQ(r.name, al.model);
    auto net = create_model(c);
    // The config a checkpoint stores reports what was built ...
    EXPECT_EQ(net->config().name, al.model);
    EXPECT_EQ(net->config().attn, attn);
    // ... and every attention module in the network is of that type.
    int64_t sites = 0;
    for (const auto& item : net->named_modules("", /*include_self=*/false))
      if (auto* m = dynamic_cast<AttentionImpl*>(item.value().get())) {
        EXPECT_EQ(m->type_name(), attn) << item.key();
        ++sites;
      }
    if (attn == "none") EXPECT_EQ(sites, 0);
    else EXPECT_GT(sites, 0);
    // Asking for the alias's own module is the same network; asking for another is an input error naming both.
    const auto same = create_model(make_cfg(al.alias, attn, 10, c.model_params.to_string()));
    EXPECT_EQ(count_params(*net), count_params(*same));
    const std::string other = attn == "sgate" ? "none" : "sgate";
    try {
      check_model_config(make_cfg(al.alias, other));
      ADD_FAILURE() << "attn " << other << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      const std::string msg = e.what();
      for (const std::string& part : {al.alias, al.model, attn, other})
        EXPECT_NE(msg.find(part), std::string::npos) << msg;
    }
  }
}

TEST(Aliases, DefaultAttentionAndOldCheckpoints) {
  // A config left at its defaults gets the standard module, and reports it once built.
  ModelConfig seed;
  EXPECT_EQ(seed.attn, kDefaultAttention);
  EXPECT_EQ(create_model(seed)->config().attn, "sgate");
  check_model_config(make_cfg("seresnet50", kDefaultAttention));
  EXPECT_THROW(create_model(make_cfg("seresnet50", "none")), Error);
  // Checkpoints written before aliases were resolved first stored the alias with whatever attn was given; the
  // model was built with the alias's module, so that is what they load as.
  ModelConfig old = make_cfg("se_resnet20", "sgate");
  const ModelConfig loaded = ModelConfig::from_json(old.to_json());
  EXPECT_EQ(loaded.name, "resnet20");
  EXPECT_EQ(loaded.attn, "se");
  // A config stored unresolved with "default" loads unchanged (and resolves the same way later).
  const ModelConfig kept = ModelConfig::from_json(make_cfg("se_resnet20", kDefaultAttention).to_json());
  EXPECT_EQ(kept.name, "se_resnet20");
  EXPECT_EQ(kept.attn, kDefaultAttention);
}

TEST(Models, EntriesCarryTheirNominalInputAndClasses) {
  EXPECT_EQ(model_entry("resnet50").input, (std::vector<int64_t>{3, 224, 224}));
  EXPECT_EQ(model_entry("resnet50").num_classes, 1000);
  EXPECT_EQ(model_entry("seresnet50").name, "resnet50");  // an alias finds its model's entry
  EXPECT_EQ(model_entry("resnet20").input, (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(model_entry("resnet20").num_classes, 10);
  EXPECT_EQ(model_entry("seed_net").input, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(nominal_input(make_cfg("ecaresnet50d", kDefaultAttention)), (std::vector<int64_t>{3, 224, 224}));
  EXPECT_EQ(nominal_input(make_cfg("resnet18", "none", 10, "stem=cifar")), (std::vector<int64_t>{3, 32, 32}));
  EXPECT_EQ(nominal_num_classes(make_cfg("mobilenet_v2")), 1000);
  EXPECT_EQ(nominal_num_classes(make_cfg("wrn28_10")), 10);
  // seed_net runs at its nominal Fashion-MNIST input.
  auto seed = create_model(make_cfg("seed_net", "sgate", 10, "", 1));
  seed->eval();
  torch::NoGradGuard g;
  EXPECT_EQ(seed->forward(torch::randn({1, 1, 28, 28})).sizes(), (std::vector<int64_t>{1, 10}));
  try {
    model_entry("resnet21");
    FAIL() << "unknown model accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'resnet20'?"), std::string::npos) << e.what();
  }
}

TEST(Info, CountsMacsOfConvAndLinear) {
  // resnet20 at 32×32, counted by hand: stem 32·32·16·27; stage 1: 6 convs 32·32·16·144; stage 2: the first conv
  // 16·16·32·144, then 5 convs 16·16·32·288; stage 3: 8·8·64·288, then 5 convs 8·8·64·576; fc 64·10.
  const int64_t expect = 32 * 32 * 16 * 27 + 6 * 32 * 32 * 16 * 144 + 16 * 16 * 32 * 144 + 5 * 16 * 16 * 32 * 288 +
                         8 * 8 * 64 * 288 + 5 * 8 * 8 * 64 * 576 + 64 * 10;
  auto net = create_model(make_cfg("resnet20"));
  const auto info = analyze_model(*net, {3, 32, 32});
  EXPECT_EQ(info.macs, expect);
  EXPECT_EQ(info.linear_macs, 640);
  EXPECT_EQ(info.params, 269722);
  EXPECT_EQ(info.output_shape, (std::vector<int64_t>{1, 10}));
  ASSERT_FALSE(info.layers.empty());
  EXPECT_EQ(info.layers[0].name, "conv1");
  EXPECT_EQ(info.layers[0].type, "Conv2d");
  EXPECT_EQ(info.layers[0].output_shape, (std::vector<int64_t>{1, 16, 32, 32}));
  EXPECT_EQ(info.layers[0].macs, 32 * 32 * 16 * 27);
  EXPECT_EQ(info.layers[1].name, "bn1");
  EXPECT_EQ(info.layers[1].macs, 0);
  EXPECT_EQ(info.layers[1].output_shape, (std::vector<int64_t>{1, 16, 32, 32}));
  int64_t sum = 0, psum = 0;
  for (const auto& l : info.layers) {
    sum += l.macs;
    psum += l.params;
    if (l.type == "Conv2d" || l.type == "BatchNorm2d") EXPECT_EQ(l.calls, 1) << l.name;
  }
  EXPECT_EQ(sum, info.macs);
  EXPECT_EQ(psum, info.params);
  EXPECT_TRUE(net->is_training());  // restored after the traced pass
}

TEST(Info, AttentionSitesAndPoolingMatmul) {
  ModelConfig c = make_cfg("resnet20", "sgate", 10, "attn_stages=3");
  c.head = "attnpool";
  auto net = create_model(c);
  const auto info = analyze_model(*net, {3, 16, 16});
  ASSERT_EQ(info.attention.size(), 4u);  // three gates and the pooling head
  EXPECT_EQ(info.attention[0].name, "layer3.0.se");
  EXPECT_EQ(info.attention[0].type, "sgate");
  // sgate on 64 channels at 4×4: conv1 16·64·64, conv2 16·64.
  EXPECT_EQ(info.attention[0].macs, 16 * 64 * 64 + 16 * 64);
  EXPECT_EQ(info.attention[0].params, 64 * 64 + 64 + 64 + 1);
  EXPECT_EQ(info.attention[3].name, "global_pool");
  // attnpool: the score conv (16·64) and the weighted sum, a bmm (1×16)·(16×64) = 16·64 MACs.
  EXPECT_EQ(info.attention[3].macs, 16 * 64);
  EXPECT_EQ(info.matmul_macs, 16 * 64);
}

TEST(Info, ResNet18And50Macs) {
  // Commonly quoted: resnet18 1.82 GMACs, resnet50 4.09 GMACs at 224×224 (conv + fc).
  auto r18 = analyze_model(*create_model(make_cfg("resnet18", "none", 1000)), {3, 224, 224});
  EXPECT_NEAR(r18.macs / 1e9, 1.814, 0.01);
  auto r50 = analyze_model(*create_model(make_cfg("resnet50", "none", 1000)), {3, 224, 224});
  EXPECT_NEAR(r50.macs / 1e9, 4.09, 0.02);
  EXPECT_EQ(r50.params, 25557032);
}

TEST(ModelOptions, ListValuesParseWithoutQuoting) {
  const auto p = Params::parse("attn_stages=2,3,layers=1,1,1,1,stem=cifar");
  EXPECT_EQ(p.get_string("attn_stages", ""), "2,3");
  EXPECT_EQ(p.get_string("layers", ""), "1,1,1,1");
  EXPECT_EQ(p.get_string("stem", ""), "cifar");
  EXPECT_EQ(Params::parse(p.to_string()).to_string(), p.to_string());
  EXPECT_THROW(Params::parse("2,3"), Error);  // a list needs its key
  EXPECT_THROW(create_model(make_cfg("resnet18", "none", 10, "layers=1,0,1,1")), Error);
}
