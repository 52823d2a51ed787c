// Stochastic depth: the drop_path function and module against timm's definition (per-sample Bernoulli mask scaled by
// 1/keep, identity in eval mode or at rate 0), its place in a residual block against a hand-computed block, the
// linear rate schedule, default models left bit-identical, option errors, and one training step per backbone.
#include <attncnn/error.h>
#include <attncnn/models/drop_path.h>
#include <attncnn/models/model.h>
#include <attncnn/models/resnet.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace attncnn;

namespace {
ModelConfig make_cfg(const std::string& name, const std::string& model_params, const std::string& attn = "none") {
  ModelConfig c;
  c.name = name;
  c.attn = attn;
  c.num_classes = 5;
  c.in_channels = 3;
  c.model_params = Params::parse(model_params);
  return c;
}
Model build(const ModelConfig& cfg) {
  torch::manual_seed(7);
  return create_model(cfg);
}
// Dotted name → rate of every DropPath module in `m`.
std::map<std::string, double> drop_rates(torch::nn::Module& m) {
  std::map<std::string, double> out;
  for (const auto& item : m.named_modules("", /*include_self=*/false))
    if (auto* d = item.value()->as<DropPath>()) out[item.key()] = d->drop_prob;
  return out;
}
// Small configurations of every backbone with residual blocks, and the input side each takes.
struct Backbone {
  std::string name, params;
  int64_t side;
};
const std::vector<Backbone>& backbones() {
  static const std::vector<Backbone> b = {
      {"resnet18", "stem=cifar,layers=1,2,1,1,channels=8,8,16,16", 16},
      {"resnet26", "stem=cifar,layers=1,1,2,1,channels=4,8,8,8", 16},
      {"resnet20", "", 16},
      {"preact_resnet18", "", 8},
      {"wrn16_8", "", 8},
      {"mobilenet_v2", "stem=cifar,dropout=0", 16},
      {"attention56", "stem=cifar", 8},
  };
  return b;
}
}  // namespace

TEST(DropPath, IdentityInEvalModeAndAtRateZero) {
  torch::manual_seed(0);
  const auto x = torch::randn({16, 3, 4, 4});
  EXPECT_TRUE(drop_path(x, 0.5, /*training=*/false).equal(x));
  EXPECT_TRUE(drop_path(x, 0.0, /*training=*/true).equal(x));
  DropPath dp(0.5);
  dp->eval();
  EXPECT_TRUE(dp->forward(x).equal(x));
  // Rate 0 draws no random numbers: the generator is where it was.
  torch::manual_seed(3);
  const auto expected = torch::rand({4});
  torch::manual_seed(3);
  drop_path(x, 0.0, true);
  EXPECT_TRUE(torch::rand({4}).equal(expected));
  EXPECT_TRUE(dp->parameters().empty());
  EXPECT_TRUE(dp->buffers().empty());
}

TEST(DropPath, KeepsEachSampleWithProbabilityOneMinusRateAndRescales) {
  for (double rate : {0.1, 0.3, 0.75}) {
    SCOPED_TRACE(rate);
    torch::manual_seed(42);
    const int64_t n = 20000;
    const auto x = torch::rand({n, 2, 3, 3}) + 0.5;  // no zeros: a zero output means a dropped sample
    DropPath dp(rate);
    dp->train();
    const auto y = dp->forward(x);
    const auto ratio = (y / x).reshape({n, -1});
    // One mask value per sample: every element of a sample gets the same factor, 0 or 1/keep.
    const auto first = ratio.select(1, 0);
    EXPECT_TRUE(torch::allclose(ratio, first.unsqueeze(1).expand_as(ratio), 1e-6, 1e-6));
    const auto kept = first > 0;
    const double keep = 1.0 - rate;
    EXPECT_TRUE(torch::allclose(first.masked_select(kept), torch::full({1}, 1.0 / keep), 1e-5, 1e-6));
    EXPECT_TRUE(first.masked_select(kept.logical_not()).eq(0).all().item<bool>());
    // Binomial(n, keep): five standard deviations is at most 0.0177 here; the seed is fixed, so this cannot flake.
    const double freq = kept.to(torch::kDouble).mean().item<double>();
    EXPECT_NEAR(freq, keep, 5 * std::sqrt(keep * (1 - keep) / n));
  }
  // Without scale_by_keep the kept samples pass unchanged.
  torch::manual_seed(1);
  const auto x = torch::rand({64, 5}) + 0.5;
  const auto y = drop_path(x, 0.5, true, /*scale_by_keep=*/false);
  const auto r = (y / x).select(1, 0);
  EXPECT_TRUE((r.eq(0) | r.eq(1)).all().item<bool>());
  EXPECT_THROW(DropPath(1.0), c10::Error);
  EXPECT_THROW(DropPath(-0.1), c10::Error);
}

TEST(DropPath, BasicBlockDropsTheResidualBranchPerSample) {
  // Reference: the block computed by hand, relu(branch · m / keep + x) with m ∈ {0, 1} per sample.
  torch::manual_seed(5);
  const double rate = 0.4, keep = 1 - rate;
  BasicBlock block(4, 4, 1, ShortcutKind::Projection, nullptr, rate);
  block->train();
  const int64_t n = 2000;
  const auto x = torch::randn({n, 4, 3, 3});
  const auto y = block->forward(x);
  torch::Tensor branch;
  {
    torch::NoGradGuard g;
    branch = block->bn2->forward(block->conv2->forward(torch::relu(block->bn1->forward(block->conv1->forward(x)))));
  }
  const auto kept_out = torch::relu(branch / keep + x);
  const auto dropped_out = torch::relu(x);
  const auto flat = [n](const torch::Tensor& t) { return t.detach().reshape({n, -1}); };
  const auto is_kept = (flat(y) - flat(kept_out)).abs().amax(1) < 1e-4;
  const auto is_dropped = (flat(y) - flat(dropped_out)).abs().amax(1) < 1e-6;
  // Every sample is one or the other (a branch that is all zero after ReLU could be both: none here).
  EXPECT_TRUE((is_kept ^ is_dropped).all().item<bool>());
  const double freq = is_kept.to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(freq, keep, 5 * std::sqrt(keep * rate / n));
  EXPECT_EQ(block->drop_path->drop_prob, rate);
}

TEST(DropPath, RateGrowsLinearlyOverTheBlocks) {
  // resnet20: 9 blocks, rate 0.2 · i / 8; the first block has rate 0 and so no module.
  auto net = build(make_cfg("resnet20", "drop_path_rate=0.2"));
  const auto rates = drop_rates(*net);
  ASSERT_EQ(rates.size(), 8u);
  for (int64_t i = 1; i < 9; ++i) {
    const std::string name = "layer" + std::to_string(i / 3 + 1) + "." + std::to_string(i % 3) + ".drop_path";
    ASSERT_TRUE(rates.count(name)) << name;
    EXPECT_DOUBLE_EQ(rates.at(name), 0.2 * static_cast<double>(i) / 8.0) << name;
  }
  // resnet18 with layers 1,2,1,1: 5 blocks across stages.
  const auto r18 = drop_rates(*build(make_cfg("resnet18", "stem=cifar,layers=1,2,1,1,drop_path_rate=0.1")));
  const std::map<std::string, double> want = {
      {"layer2.0.drop_path", 0.025}, {"layer2.1.drop_path", 0.05}, {"layer3.0.drop_path", 0.075},
      {"layer4.0.drop_path", 0.1}};
  ASSERT_EQ(r18.size(), want.size());
  for (const auto& kv : want) {
    ASSERT_TRUE(r18.count(kv.first)) << kv.first;
    EXPECT_DOUBLE_EQ(r18.at(kv.first), kv.second) << kv.first;
  }
  // mobilenet_v2: only blocks with an identity shortcut get one; the rate counts all 17 blocks.
  const auto mb = drop_rates(*build(make_cfg("mobilenet_v2", "drop_path_rate=0.16")));
  EXPECT_EQ(mb.size(), 10u);  // 17 blocks, 7 of which change shape
  EXPECT_FALSE(mb.count("features.1.drop_path"));
  EXPECT_FALSE(mb.count("features.2.drop_path"));  // stride 2
  EXPECT_DOUBLE_EQ(mb.at("features.3.drop_path"), 0.16 * 2 / 16);
  EXPECT_DOUBLE_EQ(mb.at("features.16.drop_path"), 0.16 * 15 / 16);
  // attention56: 3 + 3 + 4·3 = 18 trunk-path units; the last is stage4.2.
  const auto ra = drop_rates(*build(make_cfg("attention56", "stem=cifar,drop_path_rate=0.17")));
  EXPECT_EQ(ra.size(), 17u);
  EXPECT_DOUBLE_EQ(ra.at("stage1.1.first.drop_path"), 0.01);
  EXPECT_DOUBLE_EQ(ra.at("stage1.1.last.drop_path"), 0.04);
  EXPECT_DOUBLE_EQ(ra.at("stage4.2.drop_path"), 0.17);
  for (const auto& kv : ra) EXPECT_EQ(kv.first.find("mask"), std::string::npos) << kv.first;
}

TEST(DropPath, DefaultModelsUnchangedAndEqualInEvalMode) {
  for (const auto& b : backbones()) {
    SCOPED_TRACE(b.name);
    auto plain = build(make_cfg(b.name, b.params, "se"));
    auto zero = build(make_cfg(b.name, b.params + (b.params.empty() ? "" : ",") + "drop_path_rate=0", "se"));
    auto dropped = build(make_cfg(b.name, b.params + (b.params.empty() ? "" : ",") + "drop_path_rate=0.5", "se"));
    EXPECT_TRUE(drop_rates(*plain).empty());
    EXPECT_TRUE(drop_rates(*zero).empty());
    EXPECT_FALSE(drop_rates(*dropped).empty());
    // Same names, shapes and values: DropPath adds no state and draws no random numbers when built.
    const auto p = plain->named_parameters(), d = dropped->named_parameters();
    ASSERT_EQ(p.keys(), d.keys());
    for (const auto& kv : p) EXPECT_TRUE(kv.value().equal(d[kv.key()])) << kv.key();
    EXPECT_EQ(plain->named_buffers().keys(), dropped->named_buffers().keys());

    torch::manual_seed(11);
    const auto x = torch::randn({2, 3, b.side, b.side});
    // Eval mode at any rate, and training mode at rate 0: the same numbers as without the option. (Eval first: a
    // training-mode forward moves the BatchNorm running statistics.)
    plain->eval();
    dropped->eval();
    {
      torch::NoGradGuard g;
      EXPECT_TRUE(dropped->forward(x).equal(plain->forward(x)));
    }
    plain->train();
    zero->train();
    torch::manual_seed(12);
    const auto y_plain = plain->forward(x);
    torch::manual_seed(12);
    EXPECT_TRUE(zero->forward(x).equal(y_plain));
  }
}

TEST(DropPath, RateOutsideZeroToOneIsAnInputError) {
  for (const char* bad : {"1", "1.5", "-0.1", "nan", "abc"}) {
    SCOPED_TRACE(bad);
    try {
      create_model(make_cfg("resnet20", std::string("drop_path_rate=") + bad));
      ADD_FAILURE() << "accepted drop_path_rate=" << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      EXPECT_NE(std::string(e.what()).find(std::string("drop_path_rate=") + bad), std::string::npos) << e.what();
    }
  }
  // Every backbone and alias lists the option.
  for (const auto& b : backbones()) EXPECT_NO_THROW(check_model_config(make_cfg(b.name, "drop_path_rate=0.1")));
  for (const char* alias : {"seresnet50", "ecaresnet26d", "cbam_resnet20", "wrn28_10", "wrn40_4", "attention92",
                            "resnet110", "resnet101"})
    EXPECT_NO_THROW(check_model_config(make_cfg(alias, "drop_path_rate=0.1", kDefaultAttention))) << alias;
  EXPECT_THROW(check_model_config(make_cfg("seed_net", "drop_path_rate=0.1")), Error);
}

TEST(DropPath, EveryBackboneTrainsOneStepAtRate02) {
  for (const auto& b : backbones()) {
    SCOPED_TRACE(b.name);
    auto net = build(make_cfg(b.name, b.params + (b.params.empty() ? "" : ",") + "drop_path_rate=0.2", "se"));
    net->train();
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    const auto before = net->named_parameters().values().back().clone();
    torch::manual_seed(3);
    const auto x = torch::randn({4, 3, b.side, b.side});
    auto loss = torch::nn::functional::cross_entropy(net->forward(x), torch::tensor({0, 1, 2, 3}));
    opt.zero_grad();
    loss.backward();
    opt.step();
    EXPECT_TRUE(std::isfinite(loss.item<double>()));
    EXPECT_FALSE(net->named_parameters().values().back().equal(before));
  }
}
