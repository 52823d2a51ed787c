#pragma once
/// A training step's forward pass, loss and backward pass captured once as a CUDA graph and replayed.
///
/// A small network's step is hundreds of short kernels; launching them one by one from the host costs more than
/// running them. Captured, the whole forward and backward pass is one launch. Shapes must stay fixed (the trainer
/// drops the last partial batch of an epoch), and the parameters' gradients become static tensors that every replay
/// overwrites: zero_grad() must not be called between replays (the optimizer step reads them as usual).
///
///   GraphedStep step(*model, x, y, /*amp=*/true, /*label_smoothing=*/0.1);
///   for (...) { step.run(x, y); optimizer.step(); use(step.loss(), step.logits()); }
#include <attncnn/models/model.h>
#include <torch/types.h>

#include <memory>

namespace attncnn {

class GraphedStep {
 public:
  /// Warms up (cuDNN autotuning, allocator) on a side stream, then captures forward, cross-entropy and backward
  /// for inputs shaped like `images` and `labels` (CUDA tensors; their memory format is kept). BatchNorm buffers
  /// are restored after the warm-up, so it leaves no trace in the model. Throws (input error) when unavailable.
  GraphedStep(ModelImpl& model, const torch::Tensor& images, const torch::Tensor& labels, bool amp,
              double label_smoothing, int warmup_steps = 3);
  ~GraphedStep();
  GraphedStep(const GraphedStep&) = delete;
  GraphedStep& operator=(const GraphedStep&) = delete;

  /// Copies the batch into the captured inputs and replays the graph on the current stream; no host sync.
  void run(const torch::Tensor& images, const torch::Tensor& labels);
  /// The step's outputs, overwritten by the next run().
  const torch::Tensor& logits() const;
  const torch::Tensor& loss() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace attncnn
