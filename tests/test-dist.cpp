// Data-parallel training on c10d: shards, the launch environment, and real multi-process runs on Gloo over
// loopback (the launcher, gradient averaging against one process with the global batch, a killed rank, resume).
#include <attncnn/attention/batch_norm.h>
#include <attncnn/data/loader.h>
#include <attncnn/dist/buckets.h>
#include <attncnn/dist/env.h>
#include <attncnn/dist/process_group.h>
#include <attncnn/io/files.h>
#include <attncnn/io/safetensors.h>

#include <dirent.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "cli_run.h"
#include "fashion_small.h"
#include "test_errors.h"
#include "train_fixtures.h"

using namespace attncnn;

namespace {

// Sets environment variables for one test and restores the previous values.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::initializer_list<std::pair<std::string, std::string>> vars = {}) {
    for (const char* k : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                          "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NNODES", "SLURM_NTASKS_PER_NODE",
                          "TORCHELASTIC_USE_AGENT_STORE"}) {
      const char* v = std::getenv(k);
      saved_.emplace_back(k, v ? std::optional<std::string>(v) : std::nullopt);
      ::unsetenv(k);
    }
    for (auto& kv : vars) ::setenv(kv.first.c_str(), kv.second.c_str(), 1);
  }
  ~ScopedEnv() {
    for (auto& kv : saved_) {
      if (kv.second) ::setenv(kv.first.c_str(), kv.second->c_str(), 1);
      else ::unsetenv(kv.first.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

std::string cli() { return ATTNCNN_CLI; }

// The flags of a tiny deterministic run on the Fashion-MNIST slice (600 images), one thread per rank.
std::string tiny_flags(const std::string& model_opt = "width=4,width3=8,norm=none", bool quiet = true,
                       const std::string& fraction = "0.1") {
  return "--data fashion-mnist:" + small_fashion() + " --fraction " + fraction + " --model-opt " + model_opt +
         " --lr 0.01 --device cpu --deterministic --threads 1" + (quiet ? " -q" : "");
}

bool have_gloo() {
  const auto b = available_dist_backends();
  return std::find(b.begin(), b.end(), "gloo") != b.end();
}

#ifdef ATTNCNN_REQUIRE_GLOO
#define SKIP_WITHOUT_GLOO() ASSERT_TRUE(have_gloo()) << "this CPU build has no Gloo (install libgloo-dev)"
#else
#define SKIP_WITHOUT_GLOO() \
  if (!have_gloo()) GTEST_SKIP() << "this libtorch has no Gloo headers (PyTorch's CUDA wheels ship none)"
#endif

// A port for a one-process group, different for concurrent test processes.
std::string own_port() { return std::to_string(20000 + ::getpid() % 20000); }

double max_abs_diff(const std::string& a, const std::string& b) {
  auto x = load_safetensors(a), y = load_safetensors(b);
  EXPECT_EQ(x.tensors.size(), y.tensors.size());
  double m = 0;
  for (size_t i = 0; i < x.tensors.size() && i < y.tensors.size(); ++i) {
    EXPECT_EQ(x.tensors[i].first, y.tensors[i].first);
    m = std::max(m, (x.tensors[i].second.to(torch::kDouble) - y.tensors[i].second.to(torch::kDouble))
                        .abs().max().item<double>());
  }
  return m;
}

// Children of `parent` (from /proc), with their environment.
std::vector<std::pair<pid_t, std::string>> children_of(pid_t parent) {
  std::vector<std::pair<pid_t, std::string>> out;
  DIR* d = ::opendir("/proc");
  while (auto* e = d ? ::readdir(d) : nullptr) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) != 2 || ppid != parent) continue;
    std::ifstream env("/proc/" + std::string(e->d_name) + "/environ", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    std::replace(text.begin(), text.end(), '\0', '\n');
    out.emplace_back(pid, "\n" + text);
  }
  if (d) ::closedir(d);
  return out;
}

// Starts `attncnn <args>` with output to `log`; returns its pid.
pid_t spawn_cli(const std::string& args, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string cmd = "exec " + cli() + " " + args + " > '" + log + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits for `pid` at most `seconds`; returns its exit code (128 + signal), or -1 on timeout (then kills it).
int wait_for(pid_t pid, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST(Shard, RanksSplitTheOrderAndTogetherMakeTheGlobalBatches) {
  const auto order = epoch_order(10, 3, 1);
  const auto a = shard_order(order, 0, 3), b = shard_order(order, 1, 3), c = shard_order(order, 2, 3);
  ASSERT_EQ(a.size(), 4u);  // ceil(10 / 3), the last position padded from the start of the order
  ASSERT_EQ(b.size(), 4u);
  ASSERT_EQ(c.size(), 4u);
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(a[k], order[(3 * k) % 10]);
    EXPECT_EQ(b[k], order[(3 * k + 1) % 10]);
    EXPECT_EQ(c[k], order[(3 * k + 2) % 10]);
  }
  std::set<int64_t> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  all.insert(c.begin(), c.end());
  EXPECT_EQ(all.size(), 10u) << "every sample is seen by some rank";
  EXPECT_EQ(shard_order(order, 0, 1), order);
  EXPECT_NE(error_of([&] { shard_order(order, 3, 3); }).find("shard 3 of 3"), std::string::npos);
}

TEST(Shard, ShardedLoadersDeliverTheGlobalBatchInterleaved) {
  ImageSet set;
  set.images = torch::arange(7 * 4, torch::kLong).remainder(256).to(torch::kUInt8).view({7, 1, 2, 2});
  set.labels = torch::arange(7, torch::kLong);
  auto opts = [](int64_t rank, int64_t world, int64_t batch) {
    Transform tf;
    tf.mean = {0.0};
    tf.std = {1.0};
    return LoaderOptions(batch).seed(5).workers(0).transform(tf).shard_rank(rank).shard_count(world);
  };
  Loader whole(set, opts(0, 1, 4)), r0(set, opts(0, 2, 2)), r1(set, opts(1, 2, 2));
  EXPECT_EQ(r0.size(), 2);
  EXPECT_EQ(r0.samples(), 4);
  for (auto* l : {&whole, &r0, &r1}) l->set_epoch(2);
  Batch w, x, y;
  for (int b = 0; b < 2; ++b) {
    ASSERT_TRUE(whole.next(w));
    ASSERT_TRUE(r0.next(x));
    ASSERT_TRUE(r1.next(y));
    for (int64_t i = 0; i < x.labels.size(0); ++i) {
      if (2 * i < w.labels.size(0)) EXPECT_EQ(x.labels[i].item<int64_t>(), w.labels[2 * i].item<int64_t>());
      if (2 * i + 1 < w.labels.size(0)) EXPECT_EQ(y.labels[i].item<int64_t>(), w.labels[2 * i + 1].item<int64_t>());
    }
  }
}

TEST(DistEnv, ReadsTorchrunAndSlurmVariables) {
  {
    ScopedEnv e;
    EXPECT_FALSE(dist_env_from_environment().distributed());
  }
  {
    ScopedEnv e({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                 {"MASTER_ADDR", "10.0.0.2"}, {"MASTER_PORT", "29555"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
    const auto d = dist_env_from_environment();
    EXPECT_EQ(d.launcher, "torchrun");
    EXPECT_EQ(d.rank, 3);
    EXPECT_EQ(d.world_size, 8);
    EXPECT_EQ(d.local_rank, 1);
    EXPECT_EQ(d.local_world_size, 2);
    EXPECT_EQ(d.master_addr, "10.0.0.2");
    EXPECT_EQ(d.master_port, 29555);
    EXPECT_TRUE(d.agent_store);
  }
  {
    ScopedEnv e({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"SLURM_LOCALID", "2"}, {"SLURM_NNODES", "1"},
                 {"SLURM_NTASKS_PER_NODE", "6"}});
    const auto d = dist_env_from_environment();
    EXPECT_EQ(d.launcher, "slurm");
    EXPECT_EQ(d.rank, 5);
    EXPECT_EQ(d.world_size, 6);
    EXPECT_EQ(d.local_rank, 2);
    EXPECT_EQ(d.master_addr, "127.0.0.1");
    EXPECT_EQ(d.master_port, 29500);
  }
  {
    ScopedEnv e({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}});
    EXPECT_FALSE(dist_env_from_environment().distributed()) << "a one-task Slurm job is not data-parallel";
  }
}

TEST(DistEnv, RefusesInconsistentVariablesNamingThem) {
  {
    ScopedEnv e({{"RANK", "2"}, {"WORLD_SIZE", "2"}});
    EXPECT_NE(error_of([] { dist_env_from_environment(); }).find("RANK=2"), std::string::npos);
  }
  {
    ScopedEnv e({{"RANK", "0"}});
    EXPECT_NE(error_of([] { dist_env_from_environment(); }).find("WORLD_SIZE"), std::string::npos);
  }
  {
    ScopedEnv e({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}});
    EXPECT_NE(error_of([] { dist_env_from_environment(); }).find("MASTER_PORT=70000"), std::string::npos);
  }
  {
    ScopedEnv e({{"RANK", "x"}, {"WORLD_SIZE", "2"}});
    EXPECT_NE(error_of([] { dist_env_from_environment(); }).find("RANK=x"), std::string::npos);
  }
  {
    ScopedEnv e({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "8"}, {"SLURM_NNODES", "2"}});
    EXPECT_NE(error_of([] { dist_env_from_environment(); }).find("MASTER_ADDR"), std::string::npos);
  }
}

TEST(ProcessGroup, AWorldOfOneReducesToItselfAndNamesBadBackends) {
  ScopedEnv e({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", own_port()}});
  EXPECT_NE(error_of([] {
              ProcessGroup pg(dist_env_from_environment(), "nccl", torch::kCPU, 10);
            }).find("nccl"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ProcessGroup pg(dist_env_from_environment(), "mpi", torch::kCPU, 10);
            }).find("--dist-backend mpi"),
            std::string::npos);
  SKIP_WITHOUT_GLOO();
  ProcessGroup pg(dist_env_from_environment(), "auto", torch::kCPU, 30);
  EXPECT_EQ(pg.backend(), "gloo");
  auto t = torch::arange(5, torch::kFloat);
  pg.allreduce_sum(t);
  EXPECT_TRUE(torch::equal(t, torch::arange(5, torch::kFloat)));
  auto cl = torch::randn({2, 3, 4, 5}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto before = cl.clone();
  pg.broadcast({cl});
  EXPECT_TRUE(torch::equal(cl, before));
  pg.barrier();
}

// Gradients through the buckets (a world of one averages over itself) equal plain backward's, accumulation
// included, and land in every parameter even when a bucket boundary splits the model.
void expect_bucket_gradients_match(const std::string& backend, const torch::Device& device) {
  ScopedEnv e({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", own_port()}});
  ProcessGroup pg(dist_env_from_environment(), backend, device, 30);
  torch::manual_seed(1);
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3)), torch::nn::ReLU(),
                            torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 4, 3)), torch::nn::Flatten(),
                            torch::nn::Linear(4 * 3 * 3, 5));
  net->to(device);
  auto x1 = torch::randn({4, 3, 7, 7}).to(device), x2 = torch::randn({4, 3, 7, 7}).to(device);
  auto reference = [&](bool accumulate) {
    for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
    net->forward(x1).pow(2).mean().backward();
    if (accumulate) net->forward(x2).pow(2).mean().backward();
    std::vector<torch::Tensor> g;
    for (auto& p : net->parameters()) g.push_back(p.grad().clone());
    return g;
  };
  const auto plain = reference(false), summed = reference(true);
  GradientBuckets buckets(net->parameters(), pg, /*bucket_cap_mb=*/0.001);  // about one tensor per bucket
  EXPECT_GT(buckets.layout().size(), 2u);
  EXPECT_EQ(buckets.layout().front().front(), static_cast<int64_t>(net->parameters().size()) - 1)
      << "the last registered parameter's gradient comes first";
  for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
  net->forward(x1).pow(2).mean().backward();
  buckets.finish();
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(torch::allclose(net->parameters()[i].grad(), plain[i]));
  for (auto& p : net->parameters()) p.mutable_grad() = torch::Tensor();
  buckets.set_sync(false);
  net->forward(x1).pow(2).mean().backward();
  buckets.set_sync(true);
  net->forward(x2).pow(2).mean().backward();
  buckets.finish();
  for (size_t i = 0; i < summed.size(); ++i) EXPECT_TRUE(torch::allclose(net->parameters()[i].grad(), summed[i]));
  // Gradients zeroed in place (libtorch 1.13's Optimizer::zero_grad) instead of released still come out right.
  for (auto& p : net->parameters()) p.mutable_grad().zero_();
  net->forward(x1).pow(2).mean().backward();
  buckets.finish();
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(torch::allclose(net->parameters()[i].grad(), plain[i]));
}

TEST(GradientBuckets, HooksDeliverTheSameGradientsAsPlainBackward) {
  SKIP_WITHOUT_GLOO();
  expect_bucket_gradients_match("gloo", torch::kCPU);
}

TEST(GradientBuckets, NcclWorldOfOneOnTheGpu) {
  const auto b = available_dist_backends();
  if (!torch::cuda::is_available() || std::find(b.begin(), b.end(), "nccl") == b.end())
    GTEST_SKIP() << "needs a GPU and a libtorch with NCCL";
  expect_bucket_gradients_match("nccl", torch::Device(torch::kCUDA, 0));
}

// attncnn's BatchNorm2d is libtorch's without an exchange installed: outputs, gradients, running statistics, keys.
TEST(BatchNorm, MatchesLibtorchWithoutAnExchange) {
  torch::manual_seed(3);
  BatchNorm2d ours(torch::nn::BatchNormOptions(5).momentum(0.3));
  torch::nn::BatchNorm2d ref(torch::nn::BatchNormOptions(5).momentum(0.3));
  {
    torch::NoGradGuard g;
    ours->weight.uniform_(0.5, 1.5);
    ours->bias.uniform_(-1, 1);
    ref->weight.copy_(ours->weight);
    ref->bias.copy_(ours->bias);
  }
  std::vector<std::string> ka, kb;
  for (auto& kv : ours->named_parameters()) ka.push_back(kv.key());
  for (auto& kv : ours->named_buffers()) ka.push_back(kv.key());
  for (auto& kv : ref->named_parameters()) kb.push_back(kv.key());
  for (auto& kv : ref->named_buffers()) kb.push_back(kv.key());
  EXPECT_EQ(ka, kb);
  auto x = torch::randn({6, 5, 4, 3}) * 2 + 1;
  auto xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
  auto r = torch::randn({6, 5, 4, 3});
  (ours->forward(xa) * r).sum().backward();
  (ref->forward(xb) * r).sum().backward();
  EXPECT_TRUE(torch::allclose(xa.grad(), xb.grad(), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(ours->weight.grad(), ref->weight.grad(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(ours->running_var, ref->running_var));
  EXPECT_EQ(ours->num_batches_tracked.item<int64_t>(), 1);
  ours->eval();
  ref->eval();
  EXPECT_TRUE(torch::allclose(ours->forward(x), ref->forward(x), 1e-5, 1e-6));
}

// Two "ranks" (threads, each with its own copy of the module and half the batch) exchanging statistics through a
// rendezvous give the full batch's outputs, input gradients and running statistics; their weight gradients sum to
// the full batch's.
TEST(BatchNorm, SynchronisedHalvesEqualTheWholeBatch) {
  torch::manual_seed(4);
  auto x = torch::randn({8, 3, 5, 5}) * 3 - 1, r = torch::randn({8, 3, 5, 5});
  torch::nn::BatchNorm2d whole(3);
  auto xw = x.clone().requires_grad_();
  auto yw = whole->forward(xw);
  (yw * r).sum().backward();

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<torch::Tensor>> posted(2, std::vector<torch::Tensor>(2));  // by round parity, rank
  int64_t round = 0, arrived = 0;
  thread_local int64_t my_rank = 0;
  set_batch_norm_sync([&](const torch::Tensor& row) {
    std::unique_lock<std::mutex> lock(mu);
    const int64_t mine = round;
    posted[mine % 2][my_rank] = row.clone();
    if (++arrived == 2) {
      arrived = 0;
      ++round;
      cv.notify_all();
    } else {
      cv.wait(lock, [&] { return round != mine; });
    }
    return torch::stack(posted[mine % 2]);
  });
  std::vector<torch::Tensor> y(2), gx(2), gw(2), rv(2);
  auto rank_main = [&](int64_t rank) {
    my_rank = rank;
    torch::set_num_threads(1);
    BatchNorm2d bn(3);
    auto xi = x.slice(0, 4 * rank, 4 * rank + 4).clone().requires_grad_();
    auto yi = bn->forward(xi);
    (yi * r.slice(0, 4 * rank, 4 * rank + 4)).sum().backward();
    y[rank] = yi.detach();
    gx[rank] = xi.grad();
    gw[rank] = bn->weight.grad();
    rv[rank] = bn->running_var.clone();
  };
  std::thread t0(rank_main, 0), t1(rank_main, 1);
  t0.join();
  t1.join();
  set_batch_norm_sync({});
  EXPECT_FALSE(batch_norm_sync_enabled());
  EXPECT_TRUE(torch::allclose(torch::cat(y), yw.detach(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(torch::cat(gx), xw.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(gw[0] + gw[1], whole->weight.grad(), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(rv[0], whole->running_var, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(rv[1], whole->running_var, 1e-5, 1e-6));
  // Without the exchange, each half normalises by its own statistics: the outputs differ (the test can fail).
  BatchNorm2d local(3);
  EXPECT_FALSE(torch::allclose(local->forward(x.slice(0, 0, 4)), yw.detach().slice(0, 0, 4), 1e-3, 1e-3));
}

// Two ranks with batch B end where one process with batch 2B ends (no BatchNorm: its statistics are per rank).
TEST(DataParallel, TwoRanksMatchOneProcessWithTheGlobalBatch) {
  SKIP_WITHOUT_GLOO();
  const std::string dir = fresh_dir("dist_equal");
  const auto one = run_cli("train " + tiny_flags() + " --epochs 2 --batch-size 32 --out " + dir + "/one");
  ASSERT_EQ(one.code, 0) << one.out;
  const auto two = run_cli("train " + tiny_flags() + " --epochs 2 --batch-size 16 --nproc-per-node 2 --out " + dir +
                           "/two --dist-timeout 120");
  ASSERT_EQ(two.code, 0) << two.out;
  const auto half = run_cli("train " + tiny_flags() + " --epochs 2 --batch-size 16 --out " + dir + "/half");
  ASSERT_EQ(half.code, 0) << half.out;
  const double d = max_abs_diff(dir + "/one/weights/last.safetensors", dir + "/two/weights/last.safetensors");
  const double control = max_abs_diff(dir + "/one/weights/last.safetensors", dir + "/half/weights/last.safetensors");
  EXPECT_LT(d, 1e-4) << "2 ranks x 16 against 1 x 32";
  EXPECT_GT(control, 100 * d) << "one process with batch 16 must differ much more (the comparison can fail)";
  // The sharded evaluation of the (same) weights gives the one-process test metrics and training sums.
  auto last_metrics = [](const std::string& file) {
    std::ifstream in(file);
    std::string line, last;
    while (std::getline(in, line))
      if (!line.empty()) last = line;
    return nlohmann::json::parse(last);
  };
  const auto m1 = last_metrics(dir + "/one/metrics.jsonl"), m2 = last_metrics(dir + "/two/metrics.jsonl");
  EXPECT_NEAR(m1["val_top1"].get<double>(), m2["val_top1"].get<double>(), 0.11);
  EXPECT_NEAR(m1["val_loss"].get<double>(), m2["val_loss"].get<double>(), 1e-3);
  EXPECT_NEAR(m1["train_loss"].get<double>(), m2["train_loss"].get<double>(), 1e-3);
  EXPECT_NEAR(m1["train_acc"].get<double>(), m2["train_acc"].get<double>(), 0.2);
  // Accumulated steps: 2 ranks x 2 micro-batches of 10 against 1 x 40 (300 samples per rank: equal micro-batches).
  const auto big = run_cli("train " + tiny_flags() + " --epochs 1 --batch-size 40 --out " + dir + "/big");
  ASSERT_EQ(big.code, 0) << big.out;
  const auto acc = run_cli("train " + tiny_flags() + " --epochs 1 --batch-size 10 --grad-accum-steps 2 "
                           "--nproc-per-node 2 --dist-timeout 120 --out " + dir + "/acc");
  ASSERT_EQ(acc.code, 0) << acc.out;
  EXPECT_LT(max_abs_diff(dir + "/big/weights/last.safetensors", dir + "/acc/weights/last.safetensors"), 1e-4)
      << "2 ranks x 2 accumulated x 10 against 1 x 40";
  // The global batch is printed and recorded; rank 1 prints nothing, only rank 0 writes.
  const auto args = nlohmann::json::parse(read_text(dir + "/two/args.json"));
  EXPECT_EQ(args["world_size"], 2);
  EXPECT_EQ(args["batch_size"], 16);
  const auto loud = run_cli("train " + tiny_flags("width=4,width3=8,norm=none", false) +
                            " --epochs 1 --batch-size 16 --nproc-per-node 2 --out " + dir + "/loud --dist-timeout 120");
  ASSERT_EQ(loud.code, 0) << loud.out;
  EXPECT_NE(loud.out.find("global batch 32"), std::string::npos) << loud.out;
  size_t lines = 0;
  for (size_t at = loud.out.find("epoch 1/1  train"); at != std::string::npos; at = loud.out.find("epoch 1/1  train", at + 1))
    ++lines;
  EXPECT_EQ(lines, 1u) << loud.out;
  std::set<std::string> files;
  DIR* d2 = ::opendir(dir.c_str());
  while (auto* e2 = d2 ? ::readdir(d2) : nullptr)
    if (e2->d_name[0] != '.') files.insert(e2->d_name);
  if (d2) ::closedir(d2);
  EXPECT_EQ(files, (std::set<std::string>{"one", "two", "half", "big", "acc", "loud"}))
      << "no rank made a folder of its own";
}

// A rank killed mid-run stops the job: the other rank exits non-zero within the timeout and the launcher names it.
TEST(DataParallel, AKilledRankStopsTheJobWithinTheTimeout) {
  SKIP_WITHOUT_GLOO();
  const std::string dir = fresh_dir("dist_kill");
  const pid_t launcher = spawn_cli("train " + tiny_flags("width=8,width3=16,norm=none", false, "1") +
                                       " --epochs 50 --batch-size 16 --nproc-per-node 2 --out " + dir +
                                       "/run --dist-timeout 20",
                                   dir + "/log.txt");
  // Rank 1 is killed once both ranks train (the launcher prints rank 0's first progress line).
  pid_t victim = 0;
  for (int i = 0; i < 1500 && victim == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (read_text(dir + "/log.txt").find("epoch 1/50") == std::string::npos) continue;
    for (auto& c : children_of(launcher))
      if (c.second.find("\nRANK=1\n") != std::string::npos) victim = c.first;
  }
  ASSERT_GT(victim, 0) << read_text(dir + "/log.txt");
  ::kill(victim, SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  const int code = wait_for(launcher, 60);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string log = read_text(dir + "/log.txt");
  EXPECT_NE(code, 0) << log;
  EXPECT_NE(code, -1) << "the job did not stop: " << log;
  EXPECT_LT(waited, 45) << log;
  EXPECT_NE(log.find("rank 1"), std::string::npos) << log;
  EXPECT_NE(log.find("signal 9"), std::string::npos) << log;
}

// A rank that hangs (stopped) makes the others fail after --dist-timeout; the launcher ends the hung one.
TEST(DataParallel, AHungRankStopsTheJobAfterTheTimeout) {
  SKIP_WITHOUT_GLOO();
  const std::string dir = fresh_dir("dist_hang");
  const pid_t launcher = spawn_cli("train " + tiny_flags("width=8,width3=16,norm=none", false, "1") +
                                       " --epochs 50 --batch-size 16 --nproc-per-node 2 --out " + dir +
                                       "/run --dist-timeout 3",
                                   dir + "/log.txt");
  pid_t victim = 0;
  for (int i = 0; i < 1500 && victim == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (read_text(dir + "/log.txt").find("epoch 1/50") == std::string::npos) continue;
    for (auto& c : children_of(launcher))
      if (c.second.find("\nRANK=1\n") != std::string::npos) victim = c.first;
  }
  ASSERT_GT(victim, 0) << read_text(dir + "/log.txt");
  ::kill(victim, SIGSTOP);
  const int code = wait_for(launcher, 60);
  const std::string log = read_text(dir + "/log.txt");
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("rank 0 of 2"), std::string::npos) << "the waiting rank names itself: " << log;
  EXPECT_NE(log.find("did not stop"), std::string::npos) << log;
}

// Ctrl-C stops every rank at the same step and rank 0 saves; the resumed job ends where an uninterrupted one ends
// (weights and the EMA's).
TEST(DataParallel, AnInterruptedJobResumesToTheUninterruptedWeights) {
  SKIP_WITHOUT_GLOO();
  const std::string dir = fresh_dir("dist_resume");
  const std::string flags = tiny_flags() + " --epochs 4 --batch-size 8 --nproc-per-node 2 --dist-timeout 60 --model-ema";
  const auto full = run_cli("train " + flags + " --out " + dir + "/full");
  ASSERT_EQ(full.code, 0) << full.out;
  const pid_t launcher = spawn_cli("train " + flags + " --out " + dir + "/cut", dir + "/cut.txt");
  for (int i = 0; i < 1500 && !exists(dir + "/cut/weights/last.safetensors"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(launcher, SIGINT);
  const int code = wait_for(launcher, 60);
  ASSERT_EQ(code, 130) << "stopped and saved (exit 130), not finished: " << read_text(dir + "/cut.txt");
  const auto resumed = run_cli("train --resume " + dir + "/cut");
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  expect_same_tensors(dir + "/full/weights/last.safetensors", dir + "/cut/weights/last.safetensors");
  expect_same_tensors(dir + "/full/weights/best.safetensors", dir + "/cut/weights/best.safetensors");  // EMA weights
}

// With --sync-bn, two ranks of a network with BatchNorm end where one process with the global batch ends.
TEST(DataParallel, SyncBatchNormMatchesOneProcessWithTheGlobalBatch) {
  SKIP_WITHOUT_GLOO();
  const std::string dir = fresh_dir("dist_syncbn");
  const std::string model = "width=4,width3=8 --optimizer sgd";  // Adam would magnify rounding in near-zero gradients
  const auto one = run_cli("train " + tiny_flags(model) + " --epochs 1 --batch-size 32 --out " + dir + "/one");
  ASSERT_EQ(one.code, 0) << one.out;
  const auto two = run_cli("train " + tiny_flags(model) + " --epochs 1 --batch-size 16 --nproc-per-node 2 --sync-bn "
                           "--dist-timeout 120 --out " + dir + "/two");
  ASSERT_EQ(two.code, 0) << two.out;
  const auto local = run_cli("train " + tiny_flags(model) + " --epochs 1 --batch-size 16 --nproc-per-node 2 "
                             "--dist-timeout 120 --out " + dir + "/local");
  ASSERT_EQ(local.code, 0) << local.out;
  const double d = max_abs_diff(dir + "/one/weights/last.safetensors", dir + "/two/weights/last.safetensors");
  const double control = max_abs_diff(dir + "/one/weights/last.safetensors", dir + "/local/weights/last.safetensors");
  EXPECT_LT(d, 1e-3) << "--sync-bn: 2 ranks x 16 against 1 x 32; control " << control;
  EXPECT_GT(control, 10 * d) << "per-rank statistics must differ more (the comparison can fail)";
}
