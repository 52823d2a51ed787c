// sgate and attnpool against plain-loop references, their gradients, maps and the registry.
#include <attncnn/attention/attnpool.h>
#include <attncnn/attention/registry.h>
#include <attncnn/attention/sgate.h>
#include <attncnn/error.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace attncnn;

namespace {

// Reference sgate with plain loops over the accessors: a(n,h,w) = σ(b2 + Σ_j w2_j relu(b1_j + Σ_c w1_jc x(n,c,h,w))).
torch::Tensor sgate_reference(const torch::Tensor& x, SGateImpl& m, torch::Tensor* gate_out) {
  auto w1 = m.conv1->weight.detach().to(torch::kDouble), b1 = m.conv1->bias.detach().to(torch::kDouble);
  auto w2 = m.conv2->weight.detach().to(torch::kDouble), b2 = m.conv2->bias.detach().to(torch::kDouble);
  auto xd = x.to(torch::kDouble);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), R = w1.size(0);
  auto X = xd.accessor<double, 4>();
  auto W1 = w1.accessor<double, 4>();
  auto B1 = b1.accessor<double, 1>();
  auto W2 = w2.accessor<double, 4>();
  auto B2 = b2.accessor<double, 1>();
  auto y = torch::zeros_like(xd);
  auto gate = torch::zeros({N, 1, H, W}, torch::kDouble);
  auto Y = y.accessor<double, 4>();
  auto G = gate.accessor<double, 4>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w) {
        double s = B2[0];
        for (int64_t j = 0; j < R; ++j) {
          double z = B1[j];
          for (int64_t c = 0; c < C; ++c) z += W1[j][c][0][0] * X[n][c][h][w];
          s += W2[0][j][0][0] * std::max(0.0, z);
        }
        const double a = 1.0 / (1.0 + std::exp(-s));
        G[n][0][h][w] = a;
        for (int64_t c = 0; c < C; ++c) Y[n][c][h][w] = X[n][c][h][w] * a;
      }
  if (gate_out) *gate_out = gate;
  return y;
}

// Reference attnpool: per head, softmax over positions of b + Σ_c w_c x, then the weighted sum of features.
torch::Tensor attnpool_reference(const torch::Tensor& x, AttnPoolImpl& m) {
  auto w = m.score->weight.detach().to(torch::kDouble);
  auto b = m.score->bias.detach().to(torch::kDouble);
  auto xd = x.to(torch::kDouble);
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0);
  auto X = xd.accessor<double, 4>();
  auto Wt = w.accessor<double, 4>();
  auto B = b.accessor<double, 1>();
  auto y = torch::zeros({N, K * C}, torch::kDouble);
  auto Y = y.accessor<double, 2>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      std::vector<double> s(H * W);
      double mx = -1e300;
      for (int64_t i = 0; i < H * W; ++i) {
        double v = B[k];
        for (int64_t c = 0; c < C; ++c) v += Wt[k][c][0][0] * X[n][c][i / W][i % W];
        s[i] = v;
        mx = std::max(mx, v);
      }
      double z = 0;
      for (auto& v : s) z += (v = std::exp(v - mx));
      for (int64_t c = 0; c < C; ++c) {
        double acc = 0;
        for (int64_t i = 0; i < H * W; ++i) acc += s[i] / z * X[n][c][i / W][i % W];
        Y[n][k * C + c] = acc;
      }
    }
  return y;
}

}  // namespace

TEST(SGate, MatchesLoopReferenceAndKeepsGateShape) {
  for (double ratio : {1.0, 0.5}) {
    SGate m(SGateOptions(6).rd_ratio(ratio));
    auto x = torch::randn({3, 6, 5, 4});
    m->set_record_maps(true);
    auto y = m->forward(x);
    torch::Tensor gate;
    auto ref = sgate_reference(x, *m, &gate);
    ASSERT_EQ(y.sizes(), x.sizes());  // never N×N×C×H×W
    EXPECT_LT((y.to(torch::kDouble) - ref).abs().max().item<double>(), 1e-5);
    ASSERT_EQ(m->maps().size(), 1u);
    const auto& map = m->maps()[0].value;
    EXPECT_EQ(map.sizes(), (std::vector<int64_t>{3, 1, 5, 4}));
    EXPECT_LT((map.to(torch::kDouble) - gate).abs().max().item<double>(), 1e-6);
    EXPECT_GT(map.min().item<float>(), 0.0f);
    EXPECT_LT(map.max().item<float>(), 1.0f);
    EXPECT_EQ(m->conv1->weight.size(0), static_cast<int64_t>(6 * ratio));
  }
}

TEST(SGate, BroadcastBugCannotReturn) {
  // With N = C the origin sketch's unsqueeze(1) would still broadcast silently to N×N×C×H×W; the output must keep
  // the input's shape for every batch size, and each image must be gated by its own map only.
  SGate m(SGateOptions(4));
  auto x = torch::randn({4, 4, 3, 3});
  auto y = m->forward(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  auto y0 = m->forward(x.slice(0, 1, 2));
  EXPECT_TRUE(torch::allclose(y.slice(0, 1, 2), y0, 1e-5, 1e-6));
}

TEST(SGate, NoMapsWhenRecordingIsOff) {
  SGate m(SGateOptions(3));
  m->forward(torch::randn({1, 3, 2, 2}));
  EXPECT_TRUE(m->maps().empty());
  m->set_record_maps(true);
  m->forward(torch::randn({1, 3, 2, 2}));
  EXPECT_EQ(m->maps().size(), 1u);
  m->set_record_maps(false);
  EXPECT_TRUE(m->maps().empty());
}

TEST(AttnPool, MatchesLoopReferenceAndWeightsSumToOne) {
  for (int64_t heads : {1, 3}) {
    AttnPool m(AttnPoolOptions(5).num_heads(heads));
    auto x = torch::randn({2, 5, 4, 3});
    m->set_record_maps(true);
    auto y = m->forward(x);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 5 * heads}));
    EXPECT_LT((y.to(torch::kDouble) - attnpool_reference(x, *m)).abs().max().item<double>(), 1e-5);
    const auto& map = m->maps()[0].value;
    ASSERT_EQ(map.sizes(), (std::vector<int64_t>{2, 1, 4, 3}));
    auto sums = map.sum({1, 2, 3});
    EXPECT_TRUE(torch::allclose(sums, torch::ones({2}), 1e-5, 1e-6));
    if (heads > 1) {
      auto per_head = m->maps()[1].value.sum({2, 3});
      EXPECT_TRUE(torch::allclose(per_head, torch::ones({2, heads}), 1e-5, 1e-6));
    }
  }
}

TEST(AttnPool, ConstantScoresGiveAveragePooling) {
  AttnPool m(AttnPoolOptions(3));
  torch::NoGradGuard g;
  m->score->weight.zero_();
  auto x = torch::randn({2, 3, 4, 4});
  EXPECT_TRUE(torch::allclose(m->forward(x), x.mean({2, 3}), 1e-5, 1e-6));
}

TEST(GradCheck, SGateAndAttnPoolInDouble) {
  SGate gate(SGateOptions(3).rd_ratio(2.0));
  AttnPool pool(AttnPoolOptions(3).num_heads(2));
  gate->to(torch::kDouble);
  pool->to(torch::kDouble);
  auto x = torch::randn({2, 3, 3, 3}, torch::kDouble).requires_grad_(true);
  // Loss with random projection so every output element matters.
  auto proj_g = torch::randn({2, 3, 3, 3}, torch::kDouble);
  auto proj_p = torch::randn({2, 6}, torch::kDouble);
  auto f = [&](const torch::Tensor& in) {
    return (gate->forward(in) * proj_g).sum() + (pool->forward(in) * proj_p).sum();
  };
  auto loss = f(x);
  auto grad = torch::autograd::grad({loss}, {x})[0];
  const double eps = 1e-6;
  auto xf = x.detach().clone();
  auto flat = xf.view({-1});
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double orig = flat[i].item<double>();
    flat[i] = orig + eps;
    const double up = f(xf).item<double>();
    flat[i] = orig - eps;
    const double down = f(xf).item<double>();
    flat[i] = orig;
    const double numeric = (up - down) / (2 * eps);
    EXPECT_NEAR(grad.view({-1})[i].item<double>(), numeric, 1e-6 * std::max(1.0, std::abs(numeric))) << "at " << i;
  }
  // Parameters too: check the gate's first conv weight.
  auto pw = gate->conv1->weight;
  auto gw = torch::autograd::grad({f(x.detach())}, {pw})[0];
  torch::NoGradGuard ng;
  for (int64_t i = 0; i < pw.numel(); ++i) {
    auto v = pw.view({-1});
    const double orig = v[i].item<double>();
    v[i] = orig + eps;
    const double up = f(x.detach()).item<double>();
    v[i] = orig - eps;
    const double down = f(x.detach()).item<double>();
    v[i] = orig;
    EXPECT_NEAR(gw.view({-1})[i].item<double>(), (up - down) / (2 * eps), 1e-6 * std::max(1.0, std::abs(up - down) / (2 * eps)));
  }
}

TEST(Registry, BuildsByNameAndRejectsUnknown) {
  auto a = create_attention("sgate", 8, Params::parse("rd_ratio=0.5"));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->type_name(), "sgate");
  EXPECT_EQ(create_attention("none", 8), nullptr);
  try {
    create_attention("sgatee", 8);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("sgatee"), std::string::npos);
    EXPECT_NE(msg.find("sgate"), std::string::npos);
    EXPECT_NE(msg.find("attnpool"), std::string::npos);
  }
  try {
    create_attention("sgate", 8, Params::parse("rd_ratoi=0.5"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rd_ratoi"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("rd_ratio"), std::string::npos);
  }
  EXPECT_THROW(Params::parse("rd_ratio"), Error);
  EXPECT_THROW(create_attention("sgate", 8, Params::parse("rd_ratio=abc")), Error);
}

TEST(Registry, EveryEntryBuildsWithDefaults) {
  for (const auto& e : attention_entries()) {
    auto m = create_attention(e.name, 16);
    ASSERT_TRUE(m) << e.name;
    auto x = torch::randn({2, 16, 6, 6}, torch::requires_grad());
    auto y = m->forward(x);
    if (e.output == AttnOutput::Reweight) EXPECT_EQ(y.sizes(), x.sizes()) << e.name;
    else EXPECT_EQ(y.size(1), m->pooled_features()) << e.name;
    y.sum().backward();
    EXPECT_TRUE(x.grad().defined()) << e.name;
  }
}

TEST(Maps, CollectedWithLayerNames) {
  struct Net : torch::nn::Module {
    Net() {
      gate = register_module("gate", SGate(SGateOptions(4)));
      pool = register_module("pool", AttnPool(AttnPoolOptions(4)));
    }
    SGate gate{nullptr};
    AttnPool pool{nullptr};
  };
  Net net;
  set_record_maps(net, true);
  net.pool->forward(net.gate->forward(torch::randn({2, 4, 3, 3})));
  auto maps = collect_maps(net);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0].layer, "gate");
  EXPECT_EQ(maps[1].layer, "pool");
  set_record_maps(net, false);
  EXPECT_TRUE(collect_maps(net).empty());
}
