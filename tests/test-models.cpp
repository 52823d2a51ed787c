// seed_net: shapes, parameter count, forward and backward, attention choice, config round trip, errors.
#include <attncnn/attention/sgate.h>
#include <attncnn/error.h>
#include <attncnn/models/model.h>
#include <attncnn/models/seed_net.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace attncnn;

namespace {
int64_t count_params(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST(SeedNet, ShapesAndParameterCount) {
  ModelConfig cfg;
  cfg.in_channels = 1;
  cfg.num_classes = 10;
  auto net = create_model(cfg);
  auto y = net->forward(torch::randn({2, 1, 28, 28}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 10}));
  // Hand count: conv1 1·64·9, bn1 2·64, conv2 64·64·9, bn2 2·64, sgate (64·64+64)+(64+1), conv3 64·128·9,
  // bn3 2·128, fc 128·10+10.
  const int64_t expected = 1 * 64 * 9 + 128 + 64 * 64 * 9 + 128 + (64 * 64 + 64) + (64 + 1) + 64 * 128 * 9 + 256 +
                           128 * 10 + 10;
  EXPECT_EQ(count_params(*net), expected);
  cfg.attn = "none";
  EXPECT_EQ(count_params(*create_model(cfg)), expected - (64 * 64 + 64) - (64 + 1));
  cfg.in_channels = 3;
  cfg.num_classes = 7;
  auto rgb = create_model(cfg);
  EXPECT_EQ(rgb->forward(torch::randn({3, 3, 17, 9})).sizes(), (std::vector<int64_t>{3, 7}));
}

TEST(SeedNet, ForwardBackwardReachesEveryParameter) {
  ModelConfig cfg;
  cfg.in_channels = 1;
  cfg.head = "attnpool";
  cfg.head_params = Params::parse("num_heads=2");
  auto net = create_model(cfg);
  auto y = net->forward(torch::randn({4, 1, 12, 12}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{4, 10}));
  torch::nn::functional::cross_entropy(y, torch::tensor({0, 1, 2, 3})).backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  auto names = net->named_parameters().keys();
  EXPECT_NE(std::find(names.begin(), names.end(), "attn.conv1.weight"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "global_pool.score.weight"), names.end());
}

TEST(SeedNet, AttentionGateIsApplied) {
  // Forcing the gate's output to zero (a very negative bias) must zero the attention output, so the logits become
  // the same for every input: the gate really sits in the forward path.
  ModelConfig cfg;
  cfg.in_channels = 1;
  auto net = std::dynamic_pointer_cast<SeedNetImpl>(create_model(cfg));
  ASSERT_TRUE(net);
  net->eval();
  auto gate = std::dynamic_pointer_cast<SGateImpl>(net->attn);
  ASSERT_TRUE(gate);
  {
    torch::NoGradGuard g;
    gate->conv2->bias.fill_(-1e4);
  }
  auto y = net->forward(torch::randn({2, 1, 8, 8}));
  EXPECT_TRUE(torch::allclose(y[0], y[1], 1e-5, 1e-5));
}

TEST(SeedNet, ConfigRoundTripAndErrors) {
  ModelConfig cfg;
  cfg.in_channels = 1;
  cfg.attn_params = Params::parse("rd_ratio=0.25");
  auto back = ModelConfig::from_json(cfg.to_json());
  EXPECT_EQ(back.to_json(), cfg.to_json());
  EXPECT_EQ(back.attn_params.get_double("rd_ratio", 0), 0.25);

  ModelConfig bad = cfg;
  bad.name = "seed_nett";
  EXPECT_THROW(create_model(bad), Error);
  bad = cfg;
  bad.attn = "attnpool";  // a pooling module cannot gate inside the network
  EXPECT_THROW(create_model(bad), Error);
  bad = cfg;
  bad.head = "max";
  EXPECT_THROW(create_model(bad), Error);
  bad = cfg;
  bad.model_params = Params::parse("depth=3");
  EXPECT_THROW(create_model(bad), Error);
  EXPECT_THROW(ModelConfig::from_json("{\"name\": 3}"), Error);
}
