#pragma once
/// In-memory image datasets and the dataset specs the command line takes.
///
///   auto ds = attncnn::load_dataset("fashion-mnist");         // /usr/share/datasets/fashion-mnist
///   auto ds = attncnn::load_dataset("fashion-mnist:/data/fm");  // the same four idx files elsewhere
///   ds.train.images;   // uint8, N×C×H×W
///   ds.train.labels;   // int64, N
///
/// Spec forms:
///   fashion-mnist[:DIR]     Fashion-MNIST idx files (default folder /usr/share/datasets/fashion-mnist)
///   mnist[:DIR], idx[:DIR]  any folder holding the four idx files, raw or .gz
///   cifar10[:DIR]           CIFAR-10 binary version: data_batch_1..5.bin, test_batch.bin (+ batches.meta.txt)
///   cifar100[:DIR]          CIFAR-100 binary version: train.bin, test.bin, fine labels (+ fine_label_names.txt)
///   cifar100-coarse[:DIR]   the same files with the 20 coarse labels (+ coarse_label_names.txt)
///   folder[:DIR]            one subfolder per class of PNG/JPEG files; DIR/train + DIR/val when present,
///                           otherwise a seeded, per-class val_split share of each class becomes the test split
/// A dataset without a path is looked for in its default folder, then in $ATTNCNN_DATA/<name>; the error says
/// where it looked. Errors (unknown spec name, missing folder, truncated or malformed file, wrong record size,
/// labels out of range, empty class folder, corrupt image) throw attncnn::Error (input) naming the file and what
/// was wrong; an unknown name lists the registered ones.
///
/// The spec names are the entries of dataset_registry(). Adding a dataset takes a reader (a source file under
/// src/data/) and one register_dataset line in src/data/dataset.cpp's built-ins, or one register_dataset call
/// from user code.
#include <attncnn/registry.h>
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

namespace attncnn {

struct ImageSet {
  torch::Tensor images;  ///< uint8, N×C×H×W
  torch::Tensor labels;  ///< int64, N
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

/// How datasets are read; only folder datasets use most of these.
struct DatasetOptions {
  double val_split = 0.2;   ///< folder without train/val subfolders: share of each class held out (0 to < 1)
  uint64_t seed = 0;        ///< folder: which files are held out
  int64_t image_size = 64;  ///< folder: shorter side resized to this, then centre-cropped to a square
  int64_t channels = 0;     ///< folder: 1 or 3; 0: 3 when any image has colour, else 1
  bool skip_bad = false;    ///< folder: skip (and count) corrupt images instead of failing on the first
  int threads = 0;          ///< folder: decoding threads (0: all cores)
};

struct Dataset {
  std::string name;                       ///< "fashion-mnist", "mnist", "idx", "cifar10", "cifar100", "folder"
  std::string spec;                       ///< the spec it was loaded from
  std::string root;                       ///< folder the files came from
  ImageSet train, test;
  std::vector<std::string> class_names;
  std::string test_split = "test";        ///< what `test` holds: "test", or "val" for folder datasets
  int64_t skipped = 0;                    ///< images skipped as unreadable (skip_bad)
  std::vector<std::string> skipped_files; ///< their paths and reasons
  int64_t channels() const { return train.images.size(1); }
  int64_t height() const { return train.images.size(2); }
  int64_t width() const { return train.images.size(3); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
};

/// A kind of dataset spec: the part before the first ':' selects it.
struct DatasetEntry {
  std::string name;     ///< spec name: "cifar10"
  std::string summary;  ///< one line for `attncnn list`
  std::string form;     ///< the spec's form: "cifar10:DIR", "fashion-mnist[:DIR]"
  /// Fills ds (ds.name and ds.spec are set; root, train, test and class_names are the loader's) from `path`, the
  /// spec's part after ':' ("" when there is none). Throws attncnn::Error (input) on missing or bad files.
  std::function<void(Dataset& ds, const std::string& path, const DatasetOptions& options)> loader;
};

using DatasetRegistry = Registry<DatasetEntry>;
/// The registry of dataset specs (kind "dataset"), built-ins registered on first use.
DatasetRegistry& dataset_registry();
/// Adds a dataset spec name; an entry of the same name is replaced.
void register_dataset(DatasetEntry entry);
/// Registered dataset specs, sorted by name.
std::vector<DatasetEntry> dataset_entries();

/// Loads a dataset from a spec (see above): looks its name up in dataset_registry() and runs the entry's loader.
Dataset load_dataset(const std::string& spec, const DatasetOptions& options = {});

/// Per-channel mean and standard deviation of uint8 images scaled to [0, 1].
std::pair<std::vector<double>, std::vector<double>> channel_stats(const torch::Tensor& images_u8);

/// Per-class counts of `labels` for `num_classes` classes.
std::vector<int64_t> class_counts(const torch::Tensor& labels, int64_t num_classes);

/// A seeded subset holding round(fraction·N) samples, the same for the same seed.
ImageSet subset(const ImageSet& set, double fraction, uint64_t seed);

}  // namespace attncnn
