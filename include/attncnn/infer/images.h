#pragma once
/// Image files in, class predictions out: what `attncnn predict` and `attncnn explain` share.
///
///   auto files = attncnn::expand_image_paths({"photos/", "cat.jpg"});
///   auto img = attncnn::load_model_image(files[0].path, info);   // the checkpoint's channels and size
///   auto x = attncnn::model_input({img}, info);                  // 1×C×H×W, normalised
///   auto top = attncnn::top_predictions(model->forward(x), info.class_names, 5)[0];
///
/// Images are decoded (PNG or JPEG), converted to the checkpoint's channel count, resized to its input size
/// (area averaging when shrinking, bilinear when enlarging) and normalised with its mean and std.
#include <attncnn/io/image.h>
#include <attncnn/models/checkpoint.h>

#include <torch/types.h>

#include <string>
#include <vector>

namespace attncnn {

/// An image file and the name its outputs are written under.
struct ImageFile {
  std::string path;
  std::string name;  ///< the file's stem, or its path relative to the folder it was found in (without extension)
};

/// Files are taken as given; folders are searched recursively for .png/.jpg/.jpeg files (sorted by path; hidden
/// files and folders skipped). Throws attncnn::Error (input) for a path that does not exist or a folder without
/// images.
std::vector<ImageFile> expand_image_paths(const std::vector<std::string>& args);

/// Reads `path` and turns it into what the checkpoint's model takes: info.input[0] channels, info.input[2] wide,
/// info.input[1] high, 8-bit. Throws attncnn::Error (input) naming the file if it cannot be decoded.
Image load_model_image(const std::string& path, const CheckpointInfo& info);
/// 8-bit images (all of the checkpoint's input size) to a normalised N×C×H×W float batch on `device`.
torch::Tensor model_input(const std::vector<Image>& images, const CheckpointInfo& info,
                          const torch::Device& device = torch::kCPU);

/// The class a path names through its parent folder ("…/Dress/001.png", "…/ankle_boot/x.png", "…/3/x.png"):
/// folder and class names are compared ignoring case and anything but letters and digits. -1 when none matches.
int64_t label_from_path(const std::string& path, const std::vector<std::string>& class_names);

struct Prediction {
  int64_t index = 0;
  std::string name;        ///< class_names[index], or "class <index>" when the list is shorter
  double probability = 0;
};
/// The k most probable classes of each row of N×K logits (softmax in double precision), most probable first;
/// k is clamped to [1, K].
std::vector<std::vector<Prediction>> top_predictions(const torch::Tensor& logits,
                                                     const std::vector<std::string>& class_names, int64_t k);

}  // namespace attncnn
