#include <attncnn/data/dataset.h>
#include <attncnn/data/idx.h>
#include <attncnn/error.h>
#include <attncnn/io/files.h>

#include <torch/torch.h>

#include "readers.h"

#include <cmath>
#include <cstdlib>
#include <random>

namespace attncnn {

namespace {

const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// Finds "<dir>/<stem>" or "<dir>/<stem>.gz".
std::string idx_file(const std::string& dir, const std::string& stem) {
  for (const auto& name : {stem + ".gz", stem}) {
    if (is_file(dir + "/" + name)) return dir + "/" + name;
  }
  input_error(dir + ": missing " + stem + "[.gz]; an idx dataset folder holds train-images-idx3-ubyte, "
              "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (raw or .gz)");
}

ImageSet read_idx_split(const std::string& dir, const std::string& prefix, int64_t num_classes) {
  const auto img_path = idx_file(dir, prefix + "-images-idx3-ubyte");
  const auto lbl_path = idx_file(dir, prefix + "-labels-idx1-ubyte");
  ImageSet s;
  s.images = read_idx_images(img_path);
  s.labels = read_idx_labels(lbl_path);
  if (s.images.size(0) != s.labels.size(0))
    input_error(img_path + " holds " + std::to_string(s.images.size(0)) + " images but " + lbl_path + " holds " +
                std::to_string(s.labels.size(0)) + " labels: expected equal counts");
  if (num_classes > 0 && s.labels.numel() > 0) {
    const int64_t mx = s.labels.max().item<int64_t>();
    if (mx >= num_classes)
      input_error(lbl_path + ": label " + std::to_string(mx) + " out of range: expected 0 to " +
                  std::to_string(num_classes - 1));
  }
  return s;
}

// Resolves the folder of a dataset: the explicit path, else the default folder, else $ATTNCNN_DATA/<name>.
std::string resolve_dir(const std::string& name, const std::string& path, const std::string& default_dir,
                        const std::string& how_to_get) {
  if (!path.empty()) {
    if (!is_dir(path)) input_error(name + ": folder '" + path + "' not found" + how_to_get);
    return path;
  }
  std::vector<std::string> looked;
  if (!default_dir.empty()) {
    if (is_dir(default_dir)) return default_dir;
    looked.push_back(default_dir);
  }
  const char* env = std::getenv("ATTNCNN_DATA");
  if (env && *env) {
    const std::string p = std::string(env) + "/" + name;
    if (is_dir(p)) return p;
    looked.push_back(p);
  } else {
    looked.push_back("$ATTNCNN_DATA/" + name + " (ATTNCNN_DATA is not set)");
  }
  std::string where;
  for (const auto& l : looked) where += (where.empty() ? "" : ", ") + l;
  input_error(name + ": dataset not found; looked in " + where + how_to_get);
}

// The idx datasets: four idx files in ds.root; class names from the labels when `names` is empty.
void read_idx_dataset(Dataset& ds, std::vector<std::string> names) {
  ds.class_names = std::move(names);
  const int64_t k = static_cast<int64_t>(ds.class_names.size());
  ds.train = read_idx_split(ds.root, "train", k);
  ds.test = read_idx_split(ds.root, "t10k", k);
  if (ds.train.images.sizes().slice(1) != ds.test.images.sizes().slice(1))
    input_error(ds.root + ": train images are " + std::to_string(ds.train.images.size(2)) + "x" +
                std::to_string(ds.train.images.size(3)) + " but test images are " +
                std::to_string(ds.test.images.size(2)) + "x" + std::to_string(ds.test.images.size(3)));
  if (ds.class_names.empty()) {
    const int64_t n = std::max(ds.train.labels.max().item<int64_t>(), ds.test.labels.max().item<int64_t>()) + 1;
    for (int64_t i = 0; i < n; ++i) ds.class_names.push_back(std::to_string(i));
  }
}

// A CIFAR loader; the folder name of the download is named in the error when the folder is missing.
DatasetEntry cifar_entry(const std::string& name, const std::string& summary, bool hundred, bool coarse) {
  return {name, summary, name + ":DIR", [name, hundred, coarse](Dataset& ds, const std::string& path,
                                                                 const DatasetOptions&) {
            ds.root = resolve_dir(hundred ? "cifar100" : "cifar10", path, "",
                                  ". Give the folder of the CIFAR binary version (" +
                                      std::string(hundred ? "cifar-100-binary" : "cifar-10-batches-bin") + ") as " +
                                      name + ":DIR");
            detail::read_cifar(ds, hundred, coarse);
          }};
}

void register_builtin_datasets(DatasetRegistry& r) {
  r.add({"fashion-mnist", "Fashion-MNIST idx files (default /usr/share/datasets/fashion-mnist)",
         "fashion-mnist[:DIR]", [](Dataset& ds, const std::string& path, const DatasetOptions&) {
           ds.root = resolve_dir(ds.name, path, "/usr/share/datasets/fashion-mnist",
                                 ". Install it with `apt-get install dataset-fashion-mnist` (Debian), or give its "
                                 "folder as fashion-mnist:DIR");
           read_idx_dataset(ds, kFashionNames);
         }});
  r.add({"mnist", "MNIST idx files", "mnist:DIR", [](Dataset& ds, const std::string& path, const DatasetOptions&) {
           ds.root = resolve_dir(ds.name, path, "", ". Give the folder holding the idx files as mnist:DIR");
           std::vector<std::string> digits;
           for (int i = 0; i < 10; ++i) digits.push_back(std::to_string(i));
           read_idx_dataset(ds, digits);
         }});
  r.add({"idx", "any folder with the four idx files (raw or .gz)", "idx:DIR",
         [](Dataset& ds, const std::string& path, const DatasetOptions&) {
           ds.root = resolve_dir(ds.name, path, "", ". Give the folder holding the idx files as idx:DIR");
           read_idx_dataset(ds, {});
         }});
  r.add(cifar_entry("cifar10", "CIFAR-10 binary version (data_batch_1..5.bin, test_batch.bin)", false, false));
  r.add(cifar_entry("cifar100", "CIFAR-100 binary version (train.bin, test.bin), 100 fine labels", true, false));
  r.add(cifar_entry("cifar100-coarse", "CIFAR-100 binary version with its 20 coarse labels", true, true));
  r.add({"folder", "one subfolder per class of PNG/JPEG images (DIR/train + DIR/val, or --val-split)", "folder:DIR",
         [](Dataset& ds, const std::string& path, const DatasetOptions& options) {
           ds.root = resolve_dir(ds.name, path, "",
                                 ". Give a folder with one subfolder of images per class as folder:DIR");
           detail::read_folder(ds, options);
         }});
}

}  // namespace

DatasetRegistry& dataset_registry() {
  static DatasetRegistry registry("dataset", register_builtin_datasets);
  return registry;
}

void register_dataset(DatasetEntry entry) { dataset_registry().add(std::move(entry)); }

std::vector<DatasetEntry> dataset_entries() { return dataset_registry().entries(); }

Dataset load_dataset(const std::string& spec, const DatasetOptions& options) {
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const std::string path = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (!dataset_registry().contains(name))
    input_error("dataset spec '" + spec + "': " + dataset_registry().unknown_message(name));
  const DatasetEntry entry = dataset_registry().find(name);
  Dataset ds;
  ds.name = entry.name;
  ds.spec = spec;
  entry.loader(ds, path, options);
  return ds;
}

std::pair<std::vector<double>, std::vector<double>> channel_stats(const torch::Tensor& images_u8) {
  TORCH_CHECK(images_u8.dim() == 4, "channel_stats: expected N×C×H×W images");
  const auto x = images_u8.to(torch::kCPU, torch::kUInt8).contiguous();
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  std::vector<double> mean, std;
  if (n * hw == 0) return {std::vector<double>(c, 0.0), std::vector<double>(c, 0.0)};
  const uint8_t* p = x.data_ptr<uint8_t>();
  for (int64_t ch = 0; ch < c; ++ch) {
    // Exact integer sums: the result does not depend on summation order. A histogram keeps the inner loop to
    // one increment per pixel.
    std::vector<uint64_t> hist(256, 0);
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* q = p + (i * c + ch) * hw;
      for (int64_t k = 0; k < hw; ++k) ++hist[q[k]];
    }
    uint64_t s1 = 0, s2 = 0;
    for (uint64_t v = 0; v < 256; ++v) s1 += hist[v] * v, s2 += hist[v] * v * v;
    const double cnt = static_cast<double>(n * hw);
    const double m = static_cast<double>(s1) / cnt;
    mean.push_back(m / 255.0);
    std.push_back(std::sqrt(std::max(0.0, static_cast<double>(s2) / cnt - m * m)) / 255.0);
  }
  return {mean, std};
}

std::vector<int64_t> class_counts(const torch::Tensor& labels, int64_t num_classes) {
  auto counts = torch::bincount(labels.to(torch::kLong), /*weights=*/{}, num_classes);
  std::vector<int64_t> out(num_classes);
  for (int64_t i = 0; i < num_classes; ++i) out[i] = counts[i].item<int64_t>();
  return out;
}

ImageSet subset(const ImageSet& set, double fraction, uint64_t seed) {
  if (!(fraction > 0.0 && fraction <= 1.0))
    input_error("fraction=" + std::to_string(fraction) + ": expected a share in (0, 1]");
  const int64_t n = set.size();
  const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(std::llround(fraction * n)));
  if (k >= n) return set;
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  std::mt19937_64 rng(seed);
  std::shuffle(idx.begin(), idx.end(), rng);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  auto t = torch::tensor(idx, torch::kLong);
  return {set.images.index_select(0, t), set.labels.index_select(0, t)};
}

}  // namespace attncnn
