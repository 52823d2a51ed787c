#pragma once
/// The idx format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), raw or gzip-compressed.
///
/// Header: two zero bytes, a type byte (0x08 = unsigned byte, the only type these datasets use), the number of
/// dimensions, then each dimension as a big-endian uint32. The data follow, row-major.
/// Throws attncnn::Error (input) naming the file when it is missing, has a wrong magic, wrong dimensions, or is
/// truncated (with the expected and actual byte counts). Memory grows with what is actually read, never with
/// what the header claims.
#include <torch/types.h>

#include <string>

namespace attncnn {

/// Reads an idx3 image file as uint8 N×1×H×W.
torch::Tensor read_idx_images(const std::string& path);
/// Reads an idx1 label file as int64 N.
torch::Tensor read_idx_labels(const std::string& path);

}  // namespace attncnn
