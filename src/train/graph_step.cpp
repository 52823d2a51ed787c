#include <attncnn/error.h>
#include <attncnn/train/graph_step.h>
#include <attncnn/train/perf.h>
#include <attncnn/version.h>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#if ATTNCNN_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace attncnn {

#if ATTNCNN_WITH_CUDA

struct GraphedStep::Impl {
  at::cuda::CUDAGraph graph;
  torch::Tensor x, y, logits, loss;
};

GraphedStep::GraphedStep(ModelImpl& model, const torch::Tensor& images, const torch::Tensor& labels, bool amp,
                         double label_smoothing, int warmup_steps)
    : impl_(std::make_unique<Impl>()) {
  if (!images.is_cuda() || !labels.is_cuda()) input_error("--cuda-graph: the model and batches must be on a CUDA device");
  auto& s = *impl_;
  s.x = images.clone();
  s.y = labels.clone();
  const auto device = images.device();
  const auto ce = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(label_smoothing);
  auto params = model.parameters();
  auto forward_backward = [&] {
    {
      AutocastGuard autocast(amp, device);
      s.logits = model.forward(s.x);
      s.loss = torch::nn::functional::cross_entropy(s.logits, s.y, ce);
    }
    s.loss.backward();
  };
  auto drop_grads = [&] {
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
  };
  std::vector<torch::Tensor> buffers = model.buffers(), saved;
  for (const auto& b : buffers) saved.push_back(b.detach().clone());

  torch::cuda::synchronize();
  auto side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
  {
    c10::cuda::CUDAStreamGuard on_side(side);
    for (int i = 0; i < warmup_steps; ++i) {
      drop_grads();
      forward_backward();
    }
    {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
    }
    side.synchronize();
    // Gradients allocated inside the capture live in the graph's memory pool and are rewritten by each replay.
    drop_grads();
    // Autocast's cache of bf16 weight copies would be filled once and then freed under the graph's feet.
    const bool cache = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(false);
    try {
      s.graph.capture_begin();
      forward_backward();
      s.graph.capture_end();
    } catch (...) {
      at::autocast::set_autocast_cache_enabled(cache);
      throw;
    }
    at::autocast::set_autocast_cache_enabled(cache);
  }
  torch::cuda::synchronize();
}

void GraphedStep::run(const torch::Tensor& images, const torch::Tensor& labels) {
  auto& s = *impl_;
  TORCH_CHECK(images.sizes() == s.x.sizes() && labels.sizes() == s.y.sizes(), "GraphedStep: captured for images ",
              s.x.sizes(), " and labels ", s.y.sizes(), ", got ", images.sizes(), " and ", labels.sizes());
  s.x.copy_(images, /*non_blocking=*/true);
  s.y.copy_(labels, /*non_blocking=*/true);
  s.graph.replay();
}

#else

struct GraphedStep::Impl {
  torch::Tensor logits, loss;
};

GraphedStep::GraphedStep(ModelImpl&, const torch::Tensor&, const torch::Tensor&, bool, double, int) {
  input_error("--cuda-graph: this build of attncnn has no CUDA (it was built against a CPU-only libtorch)");
}

void GraphedStep::run(const torch::Tensor&, const torch::Tensor&) {}

#endif

GraphedStep::~GraphedStep() = default;
const torch::Tensor& GraphedStep::logits() const { return impl_->logits; }
const torch::Tensor& GraphedStep::loss() const { return impl_->loss; }

}  // namespace attncnn
