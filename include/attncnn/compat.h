#pragma once
/// Differences between the libtorch versions attncnn builds against (Debian's 1.13 and PyTorch 2.x).
/// Everything version-dependent lives here so the rest of the tree is written once.
#include <torch/version.h>

#define ATTNCNN_TORCH_VERSION_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

#include <c10/util/Optional.h>

namespace attncnn {
/// c10::optional is std::optional in 2.x and its own type in 1.13; spell it once.
template <typename T>
using optional = c10::optional<T>;
constexpr auto nullopt = c10::nullopt;

/// Whether this libtorch has torch::scaled_dot_product_attention (2.0 and later).
constexpr bool kHasSdpa = ATTNCNN_TORCH_VERSION_AT_LEAST(2, 0);
}  // namespace attncnn
