// Training and inference throughput of one model configuration on synthetic data, as one JSON line.
//
//   bench_train --model resnet18 --model-opt stem=cifar --attn cbam --input 3x32x32 --batch 512 --amp --channels-last
//
// A training step is forward, cross-entropy, backward and an SGD (momentum 0.9) step, multi-tensor (ForeachSGD)
// unless --no-foreach asks for libtorch's per-parameter SGD; inference is a forward pass
// under no_grad in eval mode. Warm-up steps (cuDNN autotuning, allocator growth) are not timed.
//
// --dist makes the step data-parallel as `attncnn train` does (gradient buckets all-reduced from autograd hooks,
// averaged before the step) in the job the environment describes; images/s is per rank:
//
//   RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29511 bench_train --dist --model resnet50 --attn se ...
#include <attncnn/dist/buckets.h>
#include <attncnn/dist/env.h>
#include <attncnn/dist/process_group.h>
#include <attncnn/error.h>
#include <attncnn/models/model.h>
#include <attncnn/train/optim.h>
#include <attncnn/train/perf.h>
#include <attncnn/train/graph_step.h>
#include <attncnn/train/trainer.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

using namespace attncnn;

namespace {
void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}
double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"attncnn training/inference throughput"};
  ModelConfig cfg;
  std::string input = "3x32x32", model_opt, attn_opt, device_name = "auto", mode = "both";
  int64_t batch = 256, steps = 50, warmup = 10;
  PerfOptions perf;
  bool foreach = true, cuda_graph = false, dist = false;
  std::string dist_backend = "auto";
  double bucket_cap_mb = 25;
  app.add_option("--model", cfg.name);
  app.add_option("--attn", cfg.attn);
  app.add_option("--attn-opt", attn_opt);
  app.add_option("--model-opt", model_opt);
  app.add_option("--head", cfg.head);
  app.add_option("--num-classes", cfg.num_classes);
  app.add_option("--input", input, "CxHxW");
  app.add_option("--batch", batch);
  app.add_option("--steps", steps);
  app.add_option("--warmup", warmup);
  app.add_option("--device", device_name);
  app.add_option("--mode", mode, "train, infer or both");
  app.add_flag("--amp", perf.amp);
  app.add_flag("--channels-last", perf.channels_last);
  app.add_flag("!--no-cudnn-benchmark", perf.cudnn_benchmark);
  app.add_flag("!--no-tf32", perf.tf32);
  app.add_flag("!--no-foreach", foreach, "per-parameter torch::optim::SGD instead of ForeachSGD");
  app.add_flag("--cuda-graph", cuda_graph, "replay forward+loss+backward as one captured CUDA graph");
  app.add_flag("--dist", dist, "data-parallel step in the job of the environment (RANK, WORLD_SIZE, MASTER_*)");
  app.add_option("--dist-backend", dist_backend, "auto, gloo or nccl");
  app.add_option("--bucket-cap-mb", bucket_cap_mb);
  CLI11_PARSE(app, argc, argv);
  try {
    cfg.attn_params = Params::parse(attn_opt);
    cfg.model_params = Params::parse(model_opt);
    int64_t c = 0, h = 0, w = 0;
    if (std::sscanf(input.c_str(), "%ldx%ldx%ld", &c, &h, &w) != 3) input_error("--input " + input + ": expected CxHxW");
    cfg.in_channels = c;
    cfg.image_size = h;
    auto device = resolve_device(device_name);
    DistEnv env;
    std::unique_ptr<ProcessGroup> pg;
    if (dist) {
      env = dist_env_from_environment();
      if (!env.distributed()) input_error("--dist: set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (torchrun does)");
      if (device.is_cuda() && device_name.find(':') == std::string::npos)
        device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(
                                                 env.local_rank % std::max<int64_t>(1, torch::cuda::device_count())));
      pg = std::make_unique<ProcessGroup>(env, dist_backend, device, 600);
    }
    apply_backend_settings(perf, device);
    torch::manual_seed(0);
    auto model = create_model(cfg);
    model->to(device);
    if (perf.channels_last) to_channels_last(*model);
    std::unique_ptr<GradientBuckets> buckets;
    if (pg) {
      std::vector<torch::Tensor> state;
      for (auto& t : model->parameters()) state.push_back(t.detach());
      pg->broadcast(state);
      buckets = std::make_unique<GradientBuckets>(model->parameters(), *pg, bucket_cap_mb);
      if (cuda_graph) buckets->set_sync(false);
    }
    auto fmt = perf.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    auto x = torch::randn({batch, c, h, w}, torch::TensorOptions().device(device)).contiguous(fmt);
    auto y = torch::randint(cfg.num_classes, {batch}, torch::TensorOptions().dtype(torch::kLong).device(device));
    int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    nlohmann::json out;
    out["model"] = cfg.name;
    out["attn"] = cfg.attn;
    out["model_opt"] = model_opt;
    out["input"] = input;
    out["batch"] = batch;
    out["amp"] = perf.amp;
    out["channels_last"] = perf.channels_last;
    out["foreach"] = foreach;
    out["cuda_graph"] = cuda_graph;
    out["device"] = device.str();
    out["params"] = params;
    out["world_size"] = pg ? pg->world_size() : 0;
    if (pg) out["dist_backend"] = pg->backend(), out["rank"] = pg->rank();
    if (mode == "train" || mode == "both") {
      const auto sgd = torch::optim::SGDOptions(0.01).momentum(0.9);
      std::unique_ptr<torch::optim::Optimizer> opt;
      if (foreach) opt = std::make_unique<ForeachSGD>(model->parameters(), sgd);
      else opt = std::make_unique<torch::optim::SGD>(model->parameters(), sgd);
      model->train();
      std::unique_ptr<GraphedStep> graph;
      if (cuda_graph) graph = std::make_unique<GraphedStep>(*model, x, y, perf.amp, 0.0);
      auto step = [&] {
        if (graph) {
          graph->run(x, y);
          if (buckets) buckets->reduce_all();
          opt->step();
          return;
        }
        if (buckets) buckets->zero_grad();
        else opt->zero_grad();
        torch::Tensor loss;
        {
          AutocastGuard ac(perf.amp, device);
          loss = torch::nn::functional::cross_entropy(model->forward(x), y);
        }
        loss.backward();
        if (buckets) buckets->finish();
        opt->step();
      };
      for (int64_t i = 0; i < warmup; ++i) step();
      sync(device);
      const double t0 = now();
      for (int64_t i = 0; i < steps; ++i) step();
      sync(device);
      const double dt = now() - t0;
      out["train_images_per_s"] = batch * steps / dt;
      out["train_ms_per_step"] = 1000.0 * dt / steps;
    }
    if (mode == "infer" || mode == "both") {
      model->eval();
      torch::NoGradGuard ng;
      auto fwd = [&] {
        AutocastGuard ac(perf.amp, device);
        return model->forward(x);
      };
      for (int64_t i = 0; i < warmup; ++i) fwd();
      sync(device);
      const double t0 = now();
      for (int64_t i = 0; i < steps; ++i) fwd();
      sync(device);
      const double dt = now() - t0;
      out["infer_images_per_s"] = batch * steps / dt;
    }
    std::cout << out.dump() << std::endl;
    return 0;
  } catch (const Error& e) {
    std::cerr << "bench_train: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "bench_train: " << e.what() << "\n";
    return 1;
  }
}
