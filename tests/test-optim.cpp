// Foreach (multi-tensor) SGD and AdamW against libtorch's own SGD and AdamW as the reference: the same model, the
// same seeded gradients, two param groups, a changing learning rate and a parameter whose gradient is often
// missing; parameters and state must agree after every step. Also: the state round-trips through the checkpoint
// code into foreach and stock optimizers alike.
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/optim.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

using namespace attncnn;

namespace {

constexpr double kRelTol = 1e-6;

// A convolution and two linear layers with biases, a parameter that gets a gradient only now and then, and a
// double-precision parameter in the same group as float ones (the foreach optimizers split groups by dtype).
struct NetImpl : torch::nn::Module {
  torch::nn::Conv2d conv{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::Tensor late, scale;
  NetImpl() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3)));
    fc1 = register_module("fc1", torch::nn::Linear(12, 5));
    fc2 = register_module("fc2", torch::nn::Linear(5, 3));
    late = register_parameter("late", torch::randn({4, 2}));
    scale = register_parameter("scale", torch::ones({3}, torch::kDouble));
  }
};
TORCH_MODULE(Net);

Net copy_of(Net& src) {
  Net n;
  load_state_dict(*n, state_dict(*src), "copy");
  return n;
}

// Two groups as the trainer makes them: matrices and kernels (weight decay), and 1-D tensors.
template <typename Options>
std::vector<torch::optim::OptimizerParamGroup> groups(Net& net, const Options& matrices, const Options& vectors) {
  std::vector<torch::Tensor> a, b;
  for (auto& p : net->parameters()) (p.dim() > 1 ? a : b).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> g;
  g.emplace_back(a, std::make_unique<Options>(matrices));
  g.emplace_back(b, std::make_unique<Options>(vectors));
  return g;
}

// Step k: seeded gradients spread over two decades; `late` has none before step 5 nor at every third step after.
// The learning rate of each group changes every step.
void prepare_step(Net& net, torch::optim::Optimizer& opt, const std::vector<double>& base_lr, int k) {
  torch::manual_seed(100 + k);
  int i = 0;
  for (auto& kv : net->named_parameters()) {
    auto& p = kv.value();
    auto g = torch::randn(p.sizes(), torch::TensorOptions().dtype(p.scalar_type())) * std::pow(10.0, (i++ + k) % 3 - 2);
    if (kv.key() == "late" && (k < 5 || k % 3 == 1)) g = torch::Tensor();
    p.mutable_grad() = g;
  }
  for (size_t j = 0; j < base_lr.size(); ++j)
    opt.param_groups()[j].options().set_lr(base_lr[j] * (1 + 0.3 * std::sin(0.5 * k)));
}

// Largest difference relative to the reference's largest magnitude (at least 1e-3, for tensors near zero).
double rel_err(const torch::Tensor& got, const torch::Tensor& ref) {
  const double scale = std::max(ref.abs().max().item<double>(), 1e-3);
  return (got.to(torch::kDouble) - ref.to(torch::kDouble)).abs().max().item<double>() / scale;
}

// Parameters agree, and so do gradients: neither optimizer may write them (weight decay makes new tensors).
void expect_same_parameters(Net& got, Net& ref, const std::string& when) {
  auto g = got->named_parameters(), r = ref->named_parameters();
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_LE(rel_err(g[i].value(), r[i].value()), kRelTol) << r[i].key() << " " << when;
    EXPECT_EQ(g[i].value().grad().defined(), r[i].value().grad().defined()) << r[i].key() << " " << when;
    if (r[i].value().grad().defined())
      EXPECT_LE(rel_err(g[i].value().grad(), r[i].value().grad()), kRelTol) << r[i].key() << " gradient " << when;
  }
}

void expect_same_state(const std::vector<std::pair<std::string, torch::Tensor>>& got,
                       const std::vector<std::pair<std::string, torch::Tensor>>& ref) {
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    EXPECT_EQ(got[i].first, ref[i].first);
    EXPECT_LE(rel_err(got[i].second, ref[i].second), kRelTol) << ref[i].first;
  }
}

// Runs the stock optimizer and the foreach one side by side for 25 steps and compares after every step. Returns
// the foreach optimizer's state as the checkpoint code writes it.
template <typename Stock, typename Foreach, typename Options>
std::vector<std::pair<std::string, torch::Tensor>> expect_same_updates(const Options& matrices,
                                                                       const Options& vectors) {
  torch::manual_seed(1);
  Net ref_net;
  Net net = copy_of(ref_net);
  Net start = copy_of(ref_net);
  Stock ref(groups(ref_net, matrices, vectors), matrices);
  Foreach opt(groups(net, matrices, vectors), matrices);
  const std::vector<double> base_lr = {matrices.lr(), vectors.lr()};
  for (int k = 0; k < 25; ++k) {
    prepare_step(ref_net, ref, base_lr, k);
    prepare_step(net, opt, base_lr, k);
    ref.step();
    opt.step();
    expect_same_parameters(net, ref_net, "after step " + std::to_string(k));
    if (::testing::Test::HasFailure()) break;
  }
  auto state = optimizer_state(opt, *net);
  expect_same_state(state, optimizer_state(ref, *ref_net));
  // Every parameter moved far beyond the tolerance: a step that did nothing, or too little, would not pass.
  for (auto& kv : start->named_parameters())
    EXPECT_GT(rel_err(net->named_parameters()[kv.key()], kv.value()), 1e3 * kRelTol) << kv.key();
  return state;
}

torch::Tensor find(const std::vector<std::pair<std::string, torch::Tensor>>& state, const std::string& name) {
  for (const auto& kv : state)
    if (kv.first == name) return kv.second;
  return {};
}

using torch::optim::AdamWOptions;
using torch::optim::SGDOptions;

}  // namespace

TEST(ForeachOptim, SgdPlainMatchesStock) {
  auto state = expect_same_updates<torch::optim::SGD, ForeachSGD>(SGDOptions(0.1), SGDOptions(0.03));
  EXPECT_TRUE(state.empty());  // no momentum: no state, as in the base class
}

TEST(ForeachOptim, SgdWeightDecayWithoutMomentumMatchesStock) {
  expect_same_updates<torch::optim::SGD, ForeachSGD>(SGDOptions(0.1).weight_decay(0.1),
                                                     SGDOptions(0.03).weight_decay(0.01));
}

TEST(ForeachOptim, SgdMomentumMatchesStock) {
  auto state = expect_same_updates<torch::optim::SGD, ForeachSGD>(SGDOptions(0.1).momentum(0.9),
                                                                  SGDOptions(0.03).momentum(0.8));
  EXPECT_TRUE(find(state, "optimizer.late.momentum_buffer").defined());
}

TEST(ForeachOptim, SgdNesterovWithWeightDecayMatchesStock) {
  expect_same_updates<torch::optim::SGD, ForeachSGD>(SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.05),
                                                     SGDOptions(0.03).momentum(0.7).nesterov(true));
}

TEST(ForeachOptim, SgdDampeningWithWeightDecayMatchesStock) {
  expect_same_updates<torch::optim::SGD, ForeachSGD>(
      SGDOptions(0.1).momentum(0.9).dampening(0.3).weight_decay(0.05),
      SGDOptions(0.03).momentum(0.5).dampening(0.1).weight_decay(0.001));
}

TEST(ForeachOptim, AdamWWeightDecayAndUnevenStepCountsMatchStock) {
  auto state = expect_same_updates<torch::optim::AdamW, ForeachAdamW>(AdamWOptions(0.01).weight_decay(0.1),
                                                                      AdamWOptions(0.003).weight_decay(0));
  // `late` started later and skipped steps, so the group's parameters were at different step counts.
  auto late = find(state, "optimizer.late.step"), conv = find(state, "optimizer.conv.weight.step");
  ASSERT_TRUE(late.defined() && conv.defined());
  EXPECT_EQ(conv.item<int64_t>(), 25);
  EXPECT_LT(late.item<int64_t>(), 20);
}

TEST(ForeachOptim, AdamWBetasAndEpsMatchStock) {
  // eps of the order of sqrt(v) for the small gradients, so where it is added matters.
  expect_same_updates<torch::optim::AdamW, ForeachAdamW>(
      AdamWOptions(0.01).betas(std::make_tuple(0.8, 0.99)).eps(1e-3).weight_decay(0.05),
      AdamWOptions(0.005).betas(std::make_tuple(0.5, 0.9)).eps(1e-6).weight_decay(0.01));
}

TEST(ForeachOptim, AdamWAmsgradMatchesStock) {
  auto state = expect_same_updates<torch::optim::AdamW, ForeachAdamW>(
      AdamWOptions(0.01).amsgrad(true).weight_decay(0.1), AdamWOptions(0.003).amsgrad(true).weight_decay(0));
  EXPECT_TRUE(find(state, "optimizer.fc1.weight.max_exp_avg_sq").defined());
}

TEST(ForeachOptim, AdamWClosureLossIsReturnedAndItsGradientsUsed) {
  torch::manual_seed(4);
  Net ref_net;
  Net net = copy_of(ref_net);
  torch::optim::AdamW ref(ref_net->parameters(), AdamWOptions(0.02));
  ForeachAdamW opt(net->parameters(), AdamWOptions(0.02));
  auto closure = [](Net& n, torch::optim::Optimizer& o) {
    return [&n, &o] {
      o.zero_grad();
      auto loss = torch::zeros({}, torch::kDouble);
      for (auto& p : n->parameters()) loss = loss + (p.sin() * p).sum();
      loss.backward();
      return loss;
    };
  };
  for (int k = 0; k < 10; ++k) {
    auto want = ref.step(closure(ref_net, ref));
    auto got = opt.step(closure(net, opt));
    ASSERT_TRUE(got.defined());
    EXPECT_LE(rel_err(got, want), kRelTol) << k;
    expect_same_parameters(net, ref_net, "after step " + std::to_string(k));
  }
}

namespace {

// Saved after 8 steps (before `late` has caught up) and restored into a fresh foreach optimizer, a stock one and
// none: the first continues bit for bit, the second to rounding, the third differs.
template <typename Stock, typename Foreach, typename Options>
void check_round_trip(const Options& matrices, const Options& vectors) {
  torch::manual_seed(2);
  Net n1;
  Foreach o1(groups(n1, matrices, vectors), matrices);
  const std::vector<double> base_lr = {matrices.lr(), vectors.lr()};
  for (int k = 0; k < 8; ++k) {
    prepare_step(n1, o1, base_lr, k);
    o1.step();
  }
  const auto saved = optimizer_state(o1, *n1);
  Net n2 = copy_of(n1), n3 = copy_of(n1), n4 = copy_of(n1);
  Foreach o2(groups(n2, matrices, vectors), matrices);
  Stock o3(groups(n3, matrices, vectors), matrices);
  Foreach o4(groups(n4, matrices, vectors), matrices);
  load_optimizer_state(o2, *n2, saved, "state");
  load_optimizer_state(o3, *n3, saved, "state");
  const std::vector<std::pair<Net*, torch::optim::Optimizer*>> runs = {{&n1, &o1}, {&n2, &o2}, {&n3, &o3}, {&n4, &o4}};
  for (int k = 8; k < 20; ++k) {
    for (auto& [n, o] : runs) {
      prepare_step(*n, *o, base_lr, k);
      o->step();
    }
  }
  for (auto& kv : n1->named_parameters())
    EXPECT_TRUE(torch::equal(n2->named_parameters()[kv.key()], kv.value())) << kv.key();
  expect_same_parameters(n3, n1, "continued by the stock optimizer");
  EXPECT_GT(rel_err(n4->fc1->weight, n1->fc1->weight), 1e3 * kRelTol);
  auto s1 = optimizer_state(o1, *n1);
  auto s2 = optimizer_state(o2, *n2);
  ASSERT_EQ(s1.size(), s2.size());
  for (size_t i = 0; i < s1.size(); ++i) EXPECT_TRUE(torch::equal(s1[i].second, s2[i].second)) << s1[i].first;
}

}  // namespace

TEST(ForeachOptim, SgdStateRoundTripsThroughCheckpointState) {
  check_round_trip<torch::optim::SGD, ForeachSGD>(SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.05),
                                                  SGDOptions(0.03).momentum(0.9).nesterov(true));
}

TEST(ForeachOptim, AdamWStateRoundTripsThroughCheckpointState) {
  check_round_trip<torch::optim::AdamW, ForeachAdamW>(AdamWOptions(0.01).weight_decay(0.1),
                                                      AdamWOptions(0.003).weight_decay(0));
}
