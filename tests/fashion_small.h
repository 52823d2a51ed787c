#pragma once
// A small copy of Fashion-MNIST (its first 6,000 training and 1,000 test images) in the idx format, so that each
// training run's per-epoch validation is cheap. Processes that write it at the same time write the same bytes
// atomically.
#include <attncnn/data/dataset.h>
#include <attncnn/io/files.h>
#include <torch/torch.h>

#include <string>

namespace {

inline std::string idx_be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  return s;
}

inline std::string idx_bytes(const torch::Tensor& t, bool images) {
  auto c = t.to(torch::kUInt8).contiguous();
  std::string s = idx_be32(images ? 0x803 : 0x801) + idx_be32(static_cast<uint32_t>(c.size(0)));
  if (images) s += idx_be32(static_cast<uint32_t>(c.size(2))) + idx_be32(static_cast<uint32_t>(c.size(3)));
  s.append(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), static_cast<size_t>(c.numel()));
  return s;
}

inline std::string small_fashion() {
  static const std::string dir = [] {
    const std::string d = std::string(ATTNCNN_TEST_TMP) + "/fashion_small";
    attncnn::make_dirs(d);
    if (!attncnn::exists(d + "/t10k-labels-idx1-ubyte")) {
      auto ds = attncnn::load_dataset(std::string("fashion-mnist:") + ATTNCNN_FASHION_MNIST_DIR);
      attncnn::atomic_write(d + "/train-images-idx3-ubyte", idx_bytes(ds.train.images.slice(0, 0, 6000), true));
      attncnn::atomic_write(d + "/train-labels-idx1-ubyte", idx_bytes(ds.train.labels.slice(0, 0, 6000), false));
      attncnn::atomic_write(d + "/t10k-images-idx3-ubyte", idx_bytes(ds.test.images.slice(0, 0, 1000), true));
      attncnn::atomic_write(d + "/t10k-labels-idx1-ubyte", idx_bytes(ds.test.labels.slice(0, 0, 1000), false));
    }
    return d;
  }();
  return dir;
}

}  // namespace
