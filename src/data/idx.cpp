#include <attncnn/data/idx.h>
#include <attncnn/error.h>
#include <attncnn/io/files.h>

#include <torch/torch.h>
#include <zlib.h>

#include <cstring>
#include <memory>
#include <vector>

namespace attncnn {

namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const {
    if (f) gzclose(f);
  }
};

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

// Reads a whole idx file whose header must have `expected_ndim` dimensions; returns dims and data bytes.
std::vector<uint8_t> read_idx(const std::string& path, int expected_ndim, std::vector<int64_t>& dims) {
  file_size(path);  // throws, naming the path, when it is missing or not a regular file
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) input_error(path + ": cannot open: " + std::strerror(errno));

  auto read_some = [&](uint8_t* dst, size_t n) -> size_t {
    size_t got = 0;
    while (got < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 24));
      const int r = gzread(f.get(), dst + got, chunk);
      if (r < 0) {
        int errnum = 0;
        const char* msg = gzerror(f.get(), &errnum);
        input_error(path + ": corrupt compressed data: " + (msg ? msg : "unknown error"));
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    return got;
  };

  uint8_t magic[4];
  if (read_some(magic, 4) != 4) input_error(path + ": truncated: expected a 4-byte idx header");
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] != expected_ndim) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  ": wrong magic 0x%02x%02x%02x%02x: expected 0x000008%02x (idx, unsigned byte, %d dimension%s)",
                  magic[0], magic[1], magic[2], magic[3], expected_ndim, expected_ndim, expected_ndim > 1 ? "s" : "");
    input_error(path + buf);
  }
  dims.assign(expected_ndim, 0);
  int64_t total = 1;
  for (int i = 0; i < expected_ndim; ++i) {
    uint8_t b[4];
    if (read_some(b, 4) != 4) input_error(path + ": truncated: header ends inside the dimensions");
    dims[i] = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | int64_t(b[3]);
    if (dims[i] == 0 || dims[i] > (int64_t(1) << 31))
      input_error(path + ": dimension " + std::to_string(i) + " is " + std::to_string(dims[i]) +
                  ": expected 1 to 2^31");
    if (total > (int64_t(1) << 40) / dims[i]) input_error(path + ": dimensions " + dims_text(dims) + " are too large");
    total *= dims[i];
  }
  // Grow with the data actually present: a header that claims 10^9 images costs nothing until they arrive.
  std::vector<uint8_t> data;
  size_t have = 0;
  while (have < static_cast<size_t>(total)) {
    const size_t want = std::min<size_t>(static_cast<size_t>(total) - have, std::max<size_t>(have, 1u << 20));
    data.resize(have + want);
    const size_t got = read_some(data.data() + have, want);
    have += got;
    if (got < want) break;
  }
  if (have < static_cast<size_t>(total))
    input_error(path + ": truncated: expected " + std::to_string(total) + " data bytes for dimensions " +
                dims_text(dims) + ", found " + std::to_string(have));
  data.resize(have);
  uint8_t extra;
  if (read_some(&extra, 1) != 0)
    input_error(path + ": " + std::to_string(total) + " data bytes expected for dimensions " + dims_text(dims) +
                ", but the file holds more");
  return data;
}

}  // namespace

torch::Tensor read_idx_images(const std::string& path) {
  std::vector<int64_t> dims;
  auto data = read_idx(path, 3, dims);
  auto t = torch::empty({dims[0], 1, dims[1], dims[2]}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), data.data(), data.size());
  return t;
}

torch::Tensor read_idx_labels(const std::string& path) {
  std::vector<int64_t> dims;
  auto data = read_idx(path, 1, dims);
  auto t = torch::empty({dims[0]}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), data.data(), data.size());
  return t.to(torch::kLong);
}

}  // namespace attncnn
