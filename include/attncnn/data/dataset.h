#pragma once
/// In-memory image datasets and the dataset specs the command line takes.
///
///   auto ds = attncnn::load_dataset("fashion-mnist");         // /usr/share/datasets/fashion-mnist
///   auto ds = attncnn::load_dataset("fashion-mnist:/data/fm");  // the same four idx files elsewhere
///   ds.train.images;   // uint8, N×C×H×W
///   ds.train.labels;   // int64, N
///
/// Spec forms: `fashion-mnist[:DIR]`, `mnist:DIR`, `idx:DIR` (any folder holding the four idx files, raw or .gz).
/// A dataset without a path is looked for in its default folder, then in $ATTNCNN_DATA/<name>.
/// Errors (missing folder, truncated or malformed file) throw attncnn::Error (input) naming the file.
#include <torch/types.h>

#include <string>
#include <vector>

namespace attncnn {

struct ImageSet {
  torch::Tensor images;  ///< uint8, N×C×H×W
  torch::Tensor labels;  ///< int64, N
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct Dataset {
  std::string name;                       ///< "fashion-mnist", "mnist", "idx"
  std::string spec;                       ///< the spec it was loaded from
  std::string root;                       ///< folder the files came from
  ImageSet train, test;
  std::vector<std::string> class_names;
  int64_t channels() const { return train.images.size(1); }
  int64_t height() const { return train.images.size(2); }
  int64_t width() const { return train.images.size(3); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
};

/// Loads a dataset from a spec (see above).
Dataset load_dataset(const std::string& spec);

/// The known dataset names and their spec forms, for `attncnn list` and error messages.
std::vector<std::pair<std::string, std::string>> dataset_kinds();

/// Per-channel mean and standard deviation of uint8 images scaled to [0, 1].
std::pair<std::vector<double>, std::vector<double>> channel_stats(const torch::Tensor& images_u8);

/// Per-class counts of `labels` for `num_classes` classes.
std::vector<int64_t> class_counts(const torch::Tensor& labels, int64_t num_classes);

/// A seeded subset holding round(fraction·N) samples, the same for the same seed.
ImageSet subset(const ImageSet& set, double fraction, uint64_t seed);

}  // namespace attncnn
