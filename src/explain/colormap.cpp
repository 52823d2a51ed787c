#include <attncnn/error.h>
#include <attncnn/explain/colormap.h>

#include <torch/torch.h>

#include <cmath>

namespace attncnn {

namespace {

using Rgb = std::array<uint8_t, 3>;

// Samples of the published colour maps at evenly spaced points (hex values as the maps are usually listed).
const std::vector<Rgb> kViridis = {{68, 1, 84},    {72, 36, 117},   {65, 68, 135},  {53, 95, 141},
                                   {42, 120, 142}, {33, 145, 140},  {34, 168, 132}, {68, 191, 112},
                                   {122, 209, 81}, {189, 223, 38},  {253, 231, 37}};
const std::vector<Rgb> kInferno = {{0, 0, 4},      {22, 11, 57},    {66, 10, 104},  {106, 23, 110},
                                   {147, 38, 103}, {188, 55, 84},   {221, 81, 58},  {243, 120, 25},
                                   {252, 165, 10}, {246, 215, 70},  {252, 255, 164}};
const std::vector<Rgb> kTurbo = {{48, 18, 59},   {70, 98, 215},  {54, 170, 249}, {26, 228, 182}, {114, 254, 94},
                                 {199, 239, 52}, {250, 186, 57}, {246, 107, 25}, {203, 42, 4},   {122, 4, 3}};

Rgb sample(const std::vector<Rgb>& table, double t) {
  const double x = t * static_cast<double>(table.size() - 1);
  const size_t i = std::min(static_cast<size_t>(x), table.size() - 2);
  const double f = x - static_cast<double>(i);
  Rgb out;
  for (int c = 0; c < 3; ++c)
    out[c] = static_cast<uint8_t>(std::lround((1 - f) * table[i][c] + f * table[i + 1][c]));
  return out;
}

uint8_t unit_to_byte(double v) { return static_cast<uint8_t>(std::lround(255.0 * std::clamp(v, 0.0, 1.0))); }

torch::Tensor check_map(const torch::Tensor& map) {
  TORCH_CHECK(map.dim() == 2, "colour map: expected an H×W map, got ", map.sizes());
  return map.detach().to(torch::kCPU, torch::kFloat).contiguous();
}

}  // namespace

Colormap parse_colormap(const std::string& name) {
  if (name == "turbo") return Colormap::Turbo;
  if (name == "jet") return Colormap::Jet;
  if (name == "viridis") return Colormap::Viridis;
  if (name == "inferno") return Colormap::Inferno;
  input_error("--colormap " + name + ": expected turbo, jet, viridis or inferno");
}

std::string colormap_name(Colormap cm) {
  switch (cm) {
    case Colormap::Turbo: return "turbo";
    case Colormap::Jet: return "jet";
    case Colormap::Viridis: return "viridis";
    case Colormap::Inferno: return "inferno";
  }
  return "turbo";
}

std::array<uint8_t, 3> colormap_rgb(Colormap cm, double t) {
  if (!(t >= 0)) t = 0;  // also catches NaN
  if (t > 1) t = 1;
  switch (cm) {
    case Colormap::Viridis: return sample(kViridis, t);
    case Colormap::Inferno: return sample(kInferno, t);
    case Colormap::Turbo: return sample(kTurbo, t);
    case Colormap::Jet:
      return {unit_to_byte(1.5 - std::abs(4 * t - 3)), unit_to_byte(1.5 - std::abs(4 * t - 2)),
              unit_to_byte(1.5 - std::abs(4 * t - 1))};
  }
  return {0, 0, 0};
}

Image colorize(const torch::Tensor& map, Colormap cm) {
  auto m = check_map(map);
  Image out;
  out.height = m.size(0);
  out.width = m.size(1);
  out.channels = 3;
  out.pixels.resize(static_cast<size_t>(out.width * out.height * 3));
  const float* p = m.data_ptr<float>();
  for (int64_t i = 0; i < out.width * out.height; ++i) {
    const auto c = colormap_rgb(cm, p[i]);
    std::copy(c.begin(), c.end(), out.pixels.begin() + i * 3);
  }
  return out;
}

Image overlay(const Image& image, const torch::Tensor& map, Colormap cm, double alpha) {
  if (!(alpha >= 0 && alpha <= 1)) input_error("--alpha " + std::to_string(alpha) + ": expected a value in [0, 1]");
  auto m = check_map(map);
  if (m.size(0) != image.height || m.size(1) != image.width)
    input_error("overlay: map is " + std::to_string(m.size(1)) + "x" + std::to_string(m.size(0)) + " but the image is " +
                std::to_string(image.width) + "x" + std::to_string(image.height));
  const Image base = convert_channels(image, 3);
  Image out = colorize(m, cm);
  for (size_t i = 0; i < out.pixels.size(); ++i)
    out.pixels[i] = static_cast<uint8_t>(std::lround((1 - alpha) * base.pixels[i] + alpha * out.pixels[i]));
  return out;
}

}  // namespace attncnn
