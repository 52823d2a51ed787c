#pragma once
/// What `attncnn explain` does, as library functions.
///
///   auto p = attncnn::Predictor::load("best.safetensors", {});
///   auto files = attncnn::expand_image_paths({"photos/"});
///   auto report = attncnn::explain_images(p.model(), p.info(), files, "gallery", {}, std::cout);
///   // gallery/index.html, gallery/maps.json, gallery/<image>_<layer>_<method>.png
///
/// Images are read and preprocessed as predictions are (infer/images.h: the checkpoint's channels, input size,
/// mean and std). A file that cannot be read is recorded in the report's failures (with the error naming it) and
/// the others go on.
#include <attncnn/explain/colormap.h>
#include <attncnn/infer/images.h>
#include <attncnn/infer/predictor.h>
#include <attncnn/io/image.h>
#include <attncnn/models/checkpoint.h>
#include <attncnn/models/model.h>

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace attncnn {

struct ExplainOptions {
  bool maps = true;             ///< attention maps of every module (channel-weighted activations for channel ones)
  bool gradcam = true;
  bool gradcampp = true;
  std::string layer;            ///< Grad-CAM layer (a capture point); empty: the model's last
  int64_t target_class = -1;    ///< class to explain; -1: the prediction
  Colormap colormap = Colormap::Turbo;
  double alpha = 0.5;           ///< heatmap weight in the overlay
  int64_t topk = 3;             ///< predictions listed per image
  int64_t display_min = 224;    ///< images smaller than this (longest side) are enlarged for display
  std::vector<std::string> class_names;  ///< names for map labels (explain_images fills them in); empty: indices
};
/// Sets the method flags from "maps", "gradcam", "gradcam++" or "all"; throws attncnn::Error (input) otherwise.
void set_methods(ExplainOptions& options, const std::string& method);

/// One explanation of one image.
struct ExplainMap {
  std::string layer;   ///< module name ("attn", "layer3.1.attn") or capture point (Grad-CAM)
  std::string method;  ///< "attn" (or "attn-<map>" for a module's other maps), "chanact", "gradcam", "gradcam++"
  std::string label;   ///< what a person should read it as
  torch::Tensor map;   ///< H×W float at the input size: the module's own values (attention) or the raw CAM
};
/// Every explanation `options` asks for of a single image x (1×C×H×W, normalised). Spatial attention maps are
/// averaged over their heads and upsampled bilinearly; a channel map (N×C weights) is shown as Σ_c w_c·|A_c| over
/// the activation captured at the module (or the closest enclosing capture point with C channels; skipped when
/// there is none). `logits` (if given) receives the model's 1×K output. The model must be in eval mode.
std::vector<ExplainMap> explain_maps(ModelImpl& model, const torch::Tensor& x, const ExplainOptions& options,
                                     torch::Tensor* logits = nullptr);

struct MapStats {
  double min = 0, max = 0;        ///< of the map's values (before display normalisation)
  int64_t peak_x = 0, peak_y = 0; ///< location of the maximum, in input pixels
  double center_share = 0;        ///< share of the (non-negative) mass inside the central 50% box; 0.25 if uniform
};
MapStats map_stats(const torch::Tensor& map);

struct MapRecord {
  std::string layer, method, label, file;
  MapStats stats;
};
struct ImageRecord {
  std::string path, name, input_file;
  int64_t true_label = -1;
  int64_t explained_class = -1;
  std::vector<Prediction> top;
  std::vector<MapRecord> maps;
};
struct ExplainReport {
  std::vector<ImageRecord> images;
  std::vector<std::pair<std::string, std::string>> failures;  ///< (path, error message)
};

/// Explains every file and writes the gallery into `out_dir` (created): one overlay PNG per map named
/// `<image>_<layer>_<method>.png` (anything but letters, digits and '-' becomes '_'), `<image>_input.png`,
/// `colorbar.png`, `index.html` (opens from disk: relative links, inline CSS, nothing fetched) and `maps.json`.
/// Progress goes to `log`. Unreadable images end up in failures.
ExplainReport explain_images(ModelImpl& model, const CheckpointInfo& info, const std::vector<ImageFile>& files,
                             const std::string& out_dir, const ExplainOptions& options, std::ostream& log);

/// Spearman rank correlation of two maps of the same size (ties get average ranks); NaN if either is constant.
double spearman(const torch::Tensor& a, const torch::Tensor& b);

struct SanityRow {
  std::string image, layer, method;
  double rho = 0;          ///< NaN when a map is constant
  bool suspicious = false; ///< rho > threshold: the map barely depends on the learned weights
};
struct SanityReport {
  double threshold = 0.5;
  std::vector<SanityRow> rows;
  std::vector<std::pair<std::string, std::string>> failures;
};
/// The model-randomisation test of Adebayo et al. (2018): every map of `trained` is compared with the same map
/// of `randomised` (the same architecture with freshly initialised weights) on the same image and class (the
/// trained model's choice), by Spearman rank correlation.
SanityReport sanity_check(ModelImpl& trained, ModelImpl& randomised, const CheckpointInfo& info,
                          const std::vector<ImageFile>& files, const ExplainOptions& options, double threshold);

}  // namespace attncnn
