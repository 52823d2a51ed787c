// fastnet: shapes on CIFAR and Fashion-MNIST inputs, parameter counts against a formula, frozen tensors, patch
// whitening from data, identity initialisation of the convs, backward, capture points and option errors.
#include <attncnn/attention/base.h>
#include <attncnn/error.h>
#include <attncnn/models/capture.h>
#include <attncnn/models/fastnet.h>
#include <attncnn/models/model.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

using namespace attncnn;

namespace {
ModelConfig make_cfg(int64_t in_channels, const std::string& attn = "none", const std::string& model_params = "",
                     int64_t classes = 10) {
  ModelConfig c;
  c.name = "fastnet";
  c.in_channels = in_channels;
  c.num_classes = classes;
  c.attn = attn;
  c.model_params = Params::parse(model_params);
  return c;
}
std::shared_ptr<FastNetImpl> make_net(const ModelConfig& cfg) {
  auto net = std::dynamic_pointer_cast<FastNetImpl>(create_model(cfg));
  EXPECT_TRUE(net);
  return net;
}
int64_t count_params(torch::nn::Module& m, bool trainable_only = false) {
  int64_t n = 0;
  for (const auto& p : m.parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}
// Parameters of the attention modules under `m`.
int64_t attention_params(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& item : m.named_modules("", false))
    if (dynamic_cast<AttentionImpl*>(item.value().get())) n += count_params(*item.value());
  return n;
}
std::vector<std::string> attention_sites(torch::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& item : m.named_modules("", false))
    if (dynamic_cast<AttentionImpl*>(item.value().get())) out.push_back(item.key());
  return out;
}

// The network counted layer by layer from its options: the whitening conv has 2·c·k² filters of c·k² weights and
// one bias each; each block has two bias-free 3×3 convs (prev→w, w→w) and two BatchNorms (weight and bias); fc has
// no bias.
int64_t formula_params(int64_t c, const std::vector<int64_t>& widths, int64_t k, int64_t classes) {
  const int64_t whiten_out = 2 * c * k * k;
  int64_t n = whiten_out * c * k * k + whiten_out;
  int64_t prev = whiten_out;
  for (int64_t w : widths) {
    n += prev * w * 9 + w * w * 9 + 2 * (2 * w);
    prev = w;
  }
  return n + prev * classes;
}
// The frozen part: the whitening weight and every BatchNorm weight.
int64_t formula_frozen(int64_t c, const std::vector<int64_t>& widths, int64_t k) {
  int64_t n = 2 * c * k * k * c * k * k;
  for (int64_t w : widths) n += 2 * w;
  return n;
}

// Images with strongly correlated neighbouring pixels and channels, normalised per channel, deterministic: smoothed
// noise, mixed across channels, plus a little independent noise so every patch direction keeps some variance.
torch::Tensor correlated_images(int64_t n, int64_t c, int64_t side) {
  torch::manual_seed(123);
  auto x = torch::randn({n, c, side + 2, side + 2});
  x = torch::avg_pool2d(x, {3, 3}, {1, 1});  // side×side, neighbours share most of their window
  if (c == 3) {
    const auto mix = torch::tensor({{1.0f, 0.6f, 0.3f}, {0.2f, 1.0f, 0.5f}, {0.4f, 0.1f, 1.0f}});
    x = torch::einsum("oc,nchw->nohw", {mix, x});
  }
  x = x + 0.05 * torch::randn_like(x) + 0.7;  // an offset, as a not-quite-normalised loader would leave
  x = x - x.mean({0, 2, 3}, true);
  return x / x.pow(2).mean({0, 2, 3}, true).sqrt() + 0.1;  // unit variance, a small mean left on purpose
}

// Every k×k patch of `images` as a row ((C, kh, kw) order, as im2col lays it out), in float64.
torch::Tensor patches_of(const torch::Tensor& images, int64_t k) {
  namespace F = torch::nn::functional;
  auto cols = F::unfold(images.to(torch::kFloat64), F::UnfoldFuncOptions({k, k}));  // N×(C·k·k)×L
  return cols.transpose(1, 2).reshape({-1, cols.size(1)});
}
torch::Tensor covariance(const torch::Tensor& rows) {
  auto centred = rows - rows.mean(0, true);
  return centred.t().matmul(centred) / static_cast<double>(rows.size(0));
}
// Largest |off-diagonal| and largest |diagonal − 1| of a square matrix.
std::pair<double, double> distance_from_identity(const torch::Tensor& m) {
  const auto eye = torch::eye(m.size(0), m.options());
  const double off = ((m - eye) * (1 - eye)).abs().max().item<double>();
  const double diag = (m.diagonal() - 1).abs().max().item<double>();
  return {off, diag};
}
}  // namespace

TEST(Fastnet, ShapesOnCifarAndFashionMnistWithAndWithoutAttention) {
  struct Input {
    int64_t c, side;
  };
  for (const Input in : {Input{3, 32}, Input{1, 28}}) {
    for (const char* attn : {"none", "eca", "se", "cbam"}) {
      SCOPED_TRACE(std::string(attn) + " " + std::to_string(in.c) + "x" + std::to_string(in.side));
      auto net = make_net(make_cfg(in.c, attn));
      net->train();
      auto x = torch::randn({2, in.c, in.side, in.side});
      EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{2, 10}));
      // 32 → 31 → 15 → 7 → 3 and 28 → 27 → 13 → 6 → 3.
      EXPECT_EQ(net->forward_features(x).sizes(), (std::vector<int64_t>{2, 256, 3, 3}));
      const auto sites = attention_sites(*net);
      if (std::string(attn) == "none") {
        EXPECT_TRUE(sites.empty());
      } else {
        EXPECT_EQ(sites, (std::vector<std::string>{"block3.attn"}));
        EXPECT_GT(attention_params(*net), 0);
      }
      EXPECT_EQ(count_params(*net), formula_params(in.c, {64, 256, 256}, 2, 10) + attention_params(*net));
    }
  }
  // Other sizes pool globally; attn_stages places the module; attnpool replaces the max pooling.
  auto all = make_net(make_cfg(3, "eca", "attn_stages=1,2,3"));
  all->eval();  // batches of one image reach 1×1 maps, which BatchNorm cannot normalise in training
  EXPECT_EQ(attention_sites(*all), (std::vector<std::string>{"block1.attn", "block2.attn", "block3.attn"}));
  EXPECT_EQ(all->forward(torch::randn({1, 3, 48, 40})).sizes(), (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(all->forward(torch::randn({1, 3, 16, 16})).sizes(), (std::vector<int64_t>{1, 10}));
  EXPECT_EQ(all->forward(torch::randn({1, 3, 9, 9})).sizes(), (std::vector<int64_t>{1, 10}));
  EXPECT_THROW(all->forward(torch::randn({1, 3, 8, 8})), c10::Error);
  EXPECT_THROW(all->forward(torch::randn({1, 1, 32, 32})), c10::Error);
  auto cfg = make_cfg(3, "none", "", 7);
  cfg.head = "attnpool";
  cfg.head_params = Params::parse("num_heads=2");
  auto pooled = make_net(cfg);
  EXPECT_EQ(pooled->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 7}));
}

TEST(Fastnet, ParameterCountsMatchTheFormula) {
  // The default network by hand: whiten 24·12 + 24; block1 24·64·9 + 64·64·9 + 4·64; block2 64·256·9 + 256·256·9 +
  // 4·256; block3 2·256·256·9 + 4·256; fc 256·10.
  EXPECT_EQ(formula_params(3, {64, 256, 256}, 2, 10), 1972792);
  EXPECT_EQ(count_params(*make_net(make_cfg(3))), 1972792);
  EXPECT_EQ(count_params(*make_net(make_cfg(1))), formula_params(1, {64, 256, 256}, 2, 10));
  EXPECT_EQ(formula_params(1, {64, 256, 256}, 2, 10), 1963304);
  EXPECT_EQ(count_params(*make_net(make_cfg(3, "none", "widths=16,32,48,whiten_kernel=3", 7))),
            formula_params(3, {16, 32, 48}, 3, 7));
  EXPECT_EQ(count_params(*make_net(make_cfg(1, "none", "widths=8,8,8,whiten_kernel=1", 2))),
            formula_params(1, {8, 8, 8}, 1, 2));
}

TEST(Fastnet, FrozenTensorsGetNoGradient) {
  auto net = make_net(make_cfg(3, "se"));
  std::set<std::string> frozen;
  for (const auto& p : net->named_parameters())
    if (!p.value().requires_grad()) frozen.insert(p.key());
  EXPECT_EQ(frozen, (std::set<std::string>{"whiten.weight", "block1.bn1.weight", "block1.bn2.weight",
                                           "block2.bn1.weight", "block2.bn2.weight", "block3.bn1.weight",
                                           "block3.bn2.weight"}));
  EXPECT_TRUE(net->whiten->bias.requires_grad());
  EXPECT_TRUE(net->block2->bn1->bias.requires_grad());
  EXPECT_TRUE(torch::all(net->block2->bn1->weight == 1).item<bool>());
  EXPECT_EQ(net->block1->bn1->options.momentum().value(), 0.4);
  EXPECT_EQ(net->block1->bn1->options.eps(), 1e-12);
  EXPECT_EQ(count_params(*net, true), count_params(*net) - formula_frozen(3, {64, 256, 256}, 2));
  // Moving the model keeps the flags.
  net->to(torch::kFloat64);
  net->to(torch::kFloat32);
  EXPECT_FALSE(net->whiten->weight.requires_grad());
  EXPECT_FALSE(net->block3->bn2->weight.requires_grad());

  net->train();
  auto y = net->forward(torch::randn({4, 3, 32, 32}));
  torch::nn::functional::cross_entropy(y, torch::tensor({0, 1, 2, 3})).backward();
  for (const auto& p : net->named_parameters()) {
    if (frozen.count(p.key())) {
      EXPECT_FALSE(p.value().grad().defined()) << p.key();
    } else {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
    }
  }
  EXPECT_EQ(make_net(make_cfg(1, "none", "bn_momentum=0.25"))->block3->bn1->options.momentum().value(), 0.25);
}

TEST(Fastnet, InitFromDataWhitensPatches) {
  const int64_t k = 2;
  for (int64_t c : {3, 1}) {
    SCOPED_TRACE("channels " + std::to_string(c));
    const auto images = correlated_images(48, c, 32);
    const auto patches = patches_of(images, k);
    const int64_t d = c * k * k;
    // The premise: the patches are strongly correlated, yet no direction is degenerate: every eigenvalue λ is at
    // least 20 ε, so every whitened direction should reach a variance λ/(λ+ε) above 0.95.
    const auto input_cov = covariance(patches);
    const auto eig = at::linalg_eigvalsh(input_cov);
    ASSERT_GT(eig.min().item<double>(), 20 * FastNetImpl::kWhitenEps);
    ASSERT_GT(distance_from_identity(input_cov).first, 0.3);

    torch::manual_seed(0);
    auto net = make_net(make_cfg(c));
    auto first_half = [&] {
      return net->whiten->weight.detach().to(torch::kFloat64).reshape({2 * d, d}).slice(0, 0, d);
    };
    // Before: the default initialisation is far from whitening (so the check below can fail).
    const auto before = distance_from_identity(covariance(patches.matmul(first_half().t())));
    EXPECT_GT(std::max(before.first, before.second), 0.5);

    net->init_from_data(images);
    const auto w = net->whiten->weight.detach();
    EXPECT_EQ(w.scalar_type(), torch::kFloat32);
    EXPECT_FALSE(net->whiten->weight.requires_grad());
    const auto out_cov = covariance(patches.matmul(first_half().t()));
    const auto after = distance_from_identity(out_cov);
    EXPECT_LT(after.first, 0.05) << out_cov;
    EXPECT_LT(after.second, 0.10) << out_cov;
    // The second half is the first, negated.
    EXPECT_TRUE(torch::equal(w.slice(0, d, 2 * d), -w.slice(0, 0, d)));
    // The conv computes exactly these patch products (the test's patch layout is the conv's).
    torch::NoGradGuard g;
    const auto conv = net->whiten->forward(images) - net->whiten->bias.view({1, -1, 1, 1});
    const auto via_patches = patches.matmul(w.to(torch::kFloat64).reshape({2 * d, d}).t());
    const auto via_conv = conv.permute({0, 2, 3, 1}).reshape({-1, 2 * d}).to(torch::kFloat64);
    EXPECT_TRUE(torch::allclose(via_conv, via_patches, 1e-4, 1e-4));
  }
  auto net = make_net(make_cfg(3));
  EXPECT_THROW(net->init_from_data(torch::randn({4, 1, 32, 32})), Error);
  EXPECT_THROW(net->init_from_data(torch::randn({3, 32, 32})), Error);
  EXPECT_THROW(net->init_from_data(torch::randn({4, 3, 1, 32})), Error);
}

TEST(Fastnet, ConvsStartAsIdentityOnTheirFirstChannels) {
  torch::NoGradGuard g;
  auto net = make_net(make_cfg(3, "none", "widths=32,16,16"));
  // block1.conv1: 24 → 32 channels, the first 24 outputs are the input.
  auto x = torch::randn({2, 24, 9, 11});
  auto y = net->block1->conv1->forward(x);
  EXPECT_TRUE(torch::allclose(y.slice(1, 0, 24), x, 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(y.slice(1, 24, 32), torch::zeros_like(y.slice(1, 24, 32))));
  // conv2 (32 → 32) is the identity.
  auto h = torch::randn({2, 32, 5, 5});
  EXPECT_TRUE(torch::allclose(net->block1->conv2->forward(h), h, 1e-6, 1e-6));
  // Narrowing (32 → 16): every output passes one input channel through.
  EXPECT_TRUE(torch::allclose(net->block2->conv1->forward(h), h.slice(1, 0, 16), 1e-6, 1e-6));
}

TEST(Fastnet, CapturePointsScaleAndChannelsLast) {
  auto net = make_net(make_cfg(3, "eca"));
  net->eval();
  auto x = torch::randn({2, 3, 32, 32});
  torch::Tensor y;
  {
    Capture cap;
    y = net->forward(x);
    EXPECT_EQ(cap.names(), (std::vector<std::string>{"block1", "block2", "block3.attn", "block3"}));
    EXPECT_EQ(cap.get("block1").sizes(), (std::vector<int64_t>{2, 64, 15, 15}));
  }
  // The logits are fc of the pooled features times 1/9.
  torch::NoGradGuard g;
  auto pooled = std::get<0>(net->forward_features(x).flatten(2).max(2));
  EXPECT_TRUE(torch::allclose(y, net->fc->forward(pooled) / 9.0, 1e-5, 1e-6));
  auto scaled = make_net(make_cfg(3, "none", "scale=0.5"));
  EXPECT_TRUE(torch::allclose(scaled->forward(x), scaled->fc->forward(std::get<0>(
                                                      scaled->forward_features(x).flatten(2).max(2))) * 0.5,
                              1e-5, 1e-6));
  // Channels-last weights and input give the same logits.
  auto ref = net->forward(x);
  for (auto& p : net->parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::allclose(net->forward(x.contiguous(at::MemoryFormat::ChannelsLast)), ref, 1e-4, 1e-5));
}

TEST(Fastnet, BadOptionsNameTheOption) {
  auto expect_error = [](const ModelConfig& cfg, const std::string& word) {
    try {
      create_model(cfg);
      ADD_FAILURE() << "expected an error naming " << word;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  expect_error(make_cfg(3, "none", "widths=64,256"), "widths");
  expect_error(make_cfg(3, "none", "widths=64,0,256"), "widths");
  expect_error(make_cfg(3, "none", "whiten_kernel=0"), "whiten_kernel");
  expect_error(make_cfg(3, "none", "bn_momentum=1.5"), "bn_momentum");
  expect_error(make_cfg(3, "none", "scale=-1"), "scale");
  expect_error(make_cfg(3, "eca", "attn_stages=4"), "attn_stages");
  expect_error(make_cfg(3, "none", "depth=3"), "depth");
  expect_error(make_cfg(3, "attnpool"), "attnpool");
  // The config round-trips through JSON and rebuilds the same network.
  auto cfg = make_cfg(1, "se", "widths=16,32,32,attn_stages=2,3");
  auto back = ModelConfig::from_json(cfg.to_json());
  EXPECT_EQ(count_params(*create_model(back)), count_params(*create_model(cfg)));
  EXPECT_EQ(attention_sites(*create_model(back)), (std::vector<std::string>{"block2.attn", "block3.attn"}));
}
