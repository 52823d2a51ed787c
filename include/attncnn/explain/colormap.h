#pragma once
/// Colour maps and heatmap overlays.
///
///   auto cm = attncnn::parse_colormap("viridis");
///   auto rgb = attncnn::colormap_rgb(cm, 0.0);          // {68, 1, 84}
///   auto img = attncnn::overlay(photo_rgb, map, cm, 0.5);
///
/// Tables are built in: viridis and inferno are sampled at eleven evenly spaced points, turbo at ten, and
/// interpolated linearly in RGB between them; jet is the usual piecewise-linear formula.
#include <attncnn/io/image.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace attncnn {

enum class Colormap { Turbo, Jet, Viridis, Inferno };

/// "turbo", "jet", "viridis" or "inferno"; anything else throws attncnn::Error (input) naming the valid ones.
Colormap parse_colormap(const std::string& name);
std::string colormap_name(Colormap cm);

/// The colour of t in [0,1] (clamped; NaN maps to 0).
std::array<uint8_t, 3> colormap_rgb(Colormap cm, double t);

/// A float H×W map with values in [0,1] painted with `cm`: an RGB Image of the same size.
Image colorize(const torch::Tensor& map, Colormap cm);

/// (1-alpha)·image + alpha·colour(map), per pixel. `image` is gray or RGB (alpha dropped) and must have the map's
/// size (H×W); the result is RGB. Throws attncnn::Error (input) for a size mismatch or alpha outside [0,1].
Image overlay(const Image& image, const torch::Tensor& map, Colormap cm, double alpha);

}  // namespace attncnn
