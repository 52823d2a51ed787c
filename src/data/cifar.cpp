// CIFAR-10 and CIFAR-100, binary version (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records of
// label byte(s) followed by 3072 pixel bytes, the R, G and B planes of a 32×32 image, row-major.
#include <attncnn/error.h>

#include <torch/torch.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "readers.h"

namespace attncnn::detail {

namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

const std::vector<std::string> kCifar10Names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

// Reads one file of records: `label_bytes` label bytes then kPixels pixel bytes; the label used is byte `which`.
ImageSet read_records(const std::string& path, int64_t label_bytes, int64_t which, int64_t num_classes,
                      const std::string& label_kind) {
  const int64_t size = file_size(path);
  const int64_t record = label_bytes + kPixels;
  if (size == 0) input_error(path + ": empty file: expected records of " + std::to_string(record) + " bytes");
  if (size % record != 0)
    input_error(path + ": size " + std::to_string(size) + " bytes is not a multiple of the record size " +
                std::to_string(record) + " (" + std::to_string(label_bytes) + " label byte" +
                (label_bytes > 1 ? "s" : "") + " + 3072 pixel bytes); truncated or not a CIFAR binary file");
  const int64_t n = size / record;
  std::ifstream f(path, std::ios::binary);
  if (!f) input_error(path + ": cannot open: " + std::strerror(errno));
  ImageSet s;
  s.images = torch::empty({n, 3, 32, 32}, torch::kUInt8);
  s.labels = torch::empty({n}, torch::kLong);
  uint8_t* img = s.images.data_ptr<uint8_t>();
  int64_t* lab = s.labels.data_ptr<int64_t>();
  // Read in chunks of whole records: the file size was checked, so memory is bounded by it.
  const int64_t chunk = 1024;
  std::vector<uint8_t> buf(static_cast<size_t>(chunk * record));
  for (int64_t i0 = 0; i0 < n; i0 += chunk) {
    const int64_t m = std::min(chunk, n - i0);
    f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(m * record));
    if (f.gcount() != m * record)
      input_error(path + ": read failed at record " + std::to_string(i0 + f.gcount() / record) +
                  " (the file shrank while being read?)");
    for (int64_t r = 0; r < m; ++r) {
      const uint8_t* rec = buf.data() + r * record;
      const int64_t label = rec[which];
      if (label >= num_classes)
        input_error(path + ": record " + std::to_string(i0 + r) + " has " + label_kind + "label " +
                    std::to_string(label) + ": expected 0 to " + std::to_string(num_classes - 1));
      lab[i0 + r] = label;
      std::memcpy(img + (i0 + r) * kPixels, rec + label_bytes, kPixels);
    }
  }
  return s;
}

// Class names, one per line (blank lines ignored); empty when the file is absent.
std::vector<std::string> read_names(const std::string& path, int64_t expected) {
  std::vector<std::string> names;
  if (!is_file(path)) return names;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line) && static_cast<int64_t>(names.size()) <= expected) {
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const auto e = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(b, e - b + 1));
  }
  if (static_cast<int64_t>(names.size()) != expected)
    input_error(path + ": " + (static_cast<int64_t>(names.size()) > expected ? "more than " : "") +
                std::to_string(names.size()) + " class names: expected " + std::to_string(expected) + ", one a line");
  return names;
}

}  // namespace

void read_cifar(Dataset& ds, bool hundred, bool coarse) {
  // Accept the folder that holds the extracted archive's folder too.
  const std::string sub = hundred ? "cifar-100-binary" : "cifar-10-batches-bin";
  const std::string probe = hundred ? "/train.bin" : "/data_batch_1.bin";
  if (!is_file(ds.root + probe) && is_dir(ds.root + "/" + sub)) ds.root += "/" + sub;
  const std::string& dir = ds.root;
  if (!hundred) {
    std::vector<ImageSet> parts;
    for (int i = 1; i <= 5; ++i)
      parts.push_back(read_records(dir + "/data_batch_" + std::to_string(i) + ".bin", 1, 0, 10, ""));
    std::vector<torch::Tensor> xs, ys;
    for (auto& p : parts) xs.push_back(p.images), ys.push_back(p.labels);
    ds.train.images = torch::cat(xs);
    ds.train.labels = torch::cat(ys);
    ds.test = read_records(dir + "/test_batch.bin", 1, 0, 10, "");
    ds.class_names = read_names(dir + "/batches.meta.txt", 10);
    if (ds.class_names.empty()) ds.class_names = kCifar10Names;
    return;
  }
  const int64_t k = coarse ? 20 : 100;
  const std::string kind = coarse ? "coarse " : "fine ";
  ds.train = read_records(dir + "/train.bin", 2, coarse ? 0 : 1, k, kind);
  ds.test = read_records(dir + "/test.bin", 2, coarse ? 0 : 1, k, kind);
  ds.class_names = read_names(dir + (coarse ? "/coarse_label_names.txt" : "/fine_label_names.txt"), k);
  if (ds.class_names.empty())
    for (int64_t i = 0; i < k; ++i) ds.class_names.push_back(std::to_string(i));
}

}  // namespace attncnn::detail
