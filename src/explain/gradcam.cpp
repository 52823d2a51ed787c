#include <attncnn/error.h>
#include <attncnn/explain/gradcam.h>
#include <attncnn/models/capture.h>

#include <torch/torch.h>

namespace attncnn {

torch::Tensor gradcam_map(const torch::Tensor& a, const torch::Tensor& g) {
  TORCH_CHECK(a.dim() == 4 && a.sizes() == g.sizes(), "gradcam_map: expected matching N×C×h×w tensors, got ",
              a.sizes(), " and ", g.sizes());
  auto w = g.mean({2, 3}, /*keepdim=*/true);
  return torch::relu((w * a).sum(1));
}

torch::Tensor gradcampp_map(const torch::Tensor& a, const torch::Tensor& g) {
  TORCH_CHECK(a.dim() == 4 && a.sizes() == g.sizes(), "gradcampp_map: expected matching N×C×h×w tensors, got ",
              a.sizes(), " and ", g.sizes());
  auto g2 = g * g;
  auto g3 = g2 * g;
  auto denom = 2 * g2 + a.sum({2, 3}, /*keepdim=*/true) * g3;
  auto safe = torch::where(denom != 0, denom, torch::ones_like(denom));
  auto alpha = torch::where(denom != 0, g2 / safe, torch::zeros_like(denom));
  auto w = (alpha * torch::relu(g)).sum({2, 3}, /*keepdim=*/true);
  return torch::relu((w * a).sum(1));
}

torch::Tensor upsample_maps(const torch::Tensor& maps, int64_t height, int64_t width) {
  auto m = maps.dim() == 3 ? maps.unsqueeze(1) : maps;
  TORCH_CHECK(m.dim() == 4 && m.size(1) == 1, "upsample_maps: expected N×h×w or N×1×h×w, got ", maps.sizes());
  m = m.to(torch::kFloat);
  if (m.size(2) != height || m.size(3) != width)
    m = torch::nn::functional::interpolate(m, torch::nn::functional::InterpolateFuncOptions()
                                                 .size(std::vector<int64_t>{height, width})
                                                 .mode(torch::kBilinear)
                                                 .align_corners(false));
  return m.squeeze(1);
}

torch::Tensor normalize_maps(const torch::Tensor& maps) {
  TORCH_CHECK(maps.dim() == 3, "normalize_maps: expected N×H×W, got ", maps.sizes());
  auto flat = maps.to(torch::kFloat).flatten(1);
  auto lo = std::get<0>(flat.min(1, true));
  auto hi = std::get<0>(flat.max(1, true));
  auto range = hi - lo;
  auto safe = torch::where(range > 0, range, torch::ones_like(range));
  auto out = torch::where(range > 0, (flat - lo) / safe, torch::zeros_like(flat));
  return out.view_as(maps);
}

std::vector<std::string> capture_points(ModelImpl& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  Capture cap;
  model.forward(x);
  return cap.names();
}

CamResult grad_cam(ModelImpl& model, const torch::Tensor& x, const CamOptions& options) {
  TORCH_CHECK(x.dim() == 4, "grad_cam: expected N×C×H×W input, got ", x.sizes());
  torch::AutoGradMode grad_on(true);
  // The input requires grad so that the graph reaches every activation even if parameters are frozen.
  auto input = x.detach().to(torch::kFloat).requires_grad_(true);
  CamResult r;
  torch::Tensor logits, act;
  {
    Capture cap;
    logits = model.forward(input);
    if (cap.points().empty())
      input_error("grad_cam: the model marks no capture points (see attncnn/models/capture.h)");
    r.layer = options.layer.empty() ? cap.points().back().first : options.layer;
    act = cap.get(r.layer);
  }
  TORCH_CHECK(logits.dim() == 2, "grad_cam: expected N×K logits, got ", logits.sizes());
  if (act.dim() != 4) input_error("grad_cam: layer '" + r.layer + "' is not a N×C×H×W feature map");
  const int64_t k = logits.size(1);
  if (options.target_class >= k)
    input_error("--class " + std::to_string(options.target_class) + ": expected pred or a class index in [0, " +
                std::to_string(k) + ")");
  r.classes = options.target_class >= 0
                  ? torch::full({logits.size(0)}, options.target_class, torch::dtype(torch::kLong).device(logits.device()))
                  : logits.detach().argmax(1);
  // Images are independent in eval mode, so one backward of the summed scores gives every image's gradient.
  auto score = logits.gather(1, r.classes.unsqueeze(1)).sum();
  if (!act.requires_grad()) input_error("grad_cam: layer '" + r.layer + "' does not depend on the input");
  auto grad = torch::autograd::grad({score}, {act}, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                    /*allow_unused=*/true)[0];
  if (!grad.defined()) grad = torch::zeros_like(act);
  auto a = act.detach().to(torch::kFloat);
  auto g = grad.detach().to(torch::kFloat);
  r.logits = logits.detach();
  r.gradcam_raw = gradcam_map(a, g);
  r.gradcampp_raw = gradcampp_map(a, g);
  r.gradcam = normalize_maps(upsample_maps(r.gradcam_raw, x.size(2), x.size(3)));
  r.gradcampp = normalize_maps(upsample_maps(r.gradcampp_raw, x.size(2), x.size(3)));
  return r;
}

}  // namespace attncnn
