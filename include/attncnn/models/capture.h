#pragma once
/// Capture points: named activations a model exposes to Grad-CAM and to the explain tools.
///
/// libtorch modules have no forward hooks, so a model marks the activations worth explaining itself, with one
/// line in its forward function, naming the point after the module (from named_modules()) that produced it:
///
///   y = attncnn::capture_point("layer4", layer4->forward(y));
///
/// capture_point returns its argument unchanged. When no Capture is active on the calling thread it costs one
/// thread-local read and a branch; nothing is stored. While a Capture is alive on the thread, every point passed
/// is kept (the tensor itself, so gradients can flow back to it), in forward order.
///
///   attncnn::Capture cap;                 // starts capturing on this thread
///   auto logits = net->forward(x);
///   auto a = cap.get("layer4");           // N×C×H×W, part of the autograd graph
///   auto g = torch::autograd::grad({logits.select(1, 3).sum()}, {a})[0];
///
/// Name points after the model's own module names so `--layer NAME` reads like named_modules(); the last point of
/// a forward is the default Grad-CAM layer, so a model's last convolutional stage should be captured last (or be
/// the last point before the classifier head).
#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace attncnn {

class Capture;

namespace detail {
Capture*& active_capture();
void capture_store(Capture& cap, const char* name, const at::Tensor& x);
}  // namespace detail

/// Marks `x` as the activation `name`; returns `x` (by value, so a temporary argument cannot dangle).
inline at::Tensor capture_point(const char* name, const at::Tensor& x) {
  if (Capture* cap = detail::active_capture()) detail::capture_store(*cap, name, x);
  return x;
}

/// Captures every point passed on this thread while alive. Captures nest: the innermost one receives the points
/// and the outer one resumes when it ends. Not copyable.
class Capture {
 public:
  Capture();
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  /// The names of the points passed so far, in order (a point passed twice appears once, holding the last value).
  std::vector<std::string> names() const;
  /// Whether `name` was passed.
  bool has(const std::string& name) const;
  /// The activation captured under `name`; throws attncnn::Error (input) listing the captured names if absent.
  at::Tensor get(const std::string& name) const;
  /// Every (name, activation) pair, in order.
  const std::vector<std::pair<std::string, at::Tensor>>& points() const { return points_; }
  /// Forgets what was captured (the capture stays active).
  void clear() { points_.clear(); }

 private:
  friend void detail::capture_store(Capture&, const char*, const at::Tensor&);
  std::vector<std::pair<std::string, at::Tensor>> points_;
  Capture* outer_ = nullptr;
};

}  // namespace attncnn
