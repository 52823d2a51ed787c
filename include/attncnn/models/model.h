#pragma once
/// The model base type and the model registry.
///
///   attncnn::ModelConfig cfg;
///   cfg.num_classes = 10; cfg.in_channels = 1; cfg.attn = "sgate";
///   auto net = attncnn::create_model("seed_net", cfg);
///   auto logits = net->forward(images);   // N×num_classes
///
/// A ModelConfig is everything needed to rebuild a model: checkpoints store it (to_json) and eval, predict and
/// explain rebuild the network from it. Unknown names and options throw attncnn::Error (input).
#include <attncnn/attention/params.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace attncnn {

struct ModelConfig {
  std::string name = "seed_net";
  int64_t in_channels = 3;
  int64_t num_classes = 10;
  int64_t image_size = 32;     ///< nominal input side (for info and export); convolutional models take any size
  std::string attn = "sgate";  ///< attention module by registry name, or "none"
  Params attn_params;          ///< options for the attention module
  std::string head = "avg";    ///< classifier pooling: "avg" or "attnpool"
  Params head_params;          ///< options for the head (attnpool: num_heads)
  Params model_params;         ///< model-specific options

  /// JSON text holding every field, for checkpoint metadata.
  std::string to_json() const;
  /// Inverse of to_json; throws (input error) on a malformed or incomplete description.
  static ModelConfig from_json(const std::string& text);
};

class ModelImpl : public torch::nn::Module {
 public:
  ~ModelImpl() override = default;
  /// N×in_channels×H×W float images in, N×num_classes logits out.
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  /// The configuration this model was built from.
  virtual const ModelConfig& config() const = 0;
  /// Data-dependent initialisation before training starts (not on resume): `images` are normalised training
  /// images (N×C×H×W float, on the model's device). The default does nothing; a model whose first layer is set
  /// from the data (e.g. patch whitening) overrides it and initialises_from_data().
  virtual void init_from_data(const torch::Tensor& images) {}
  /// Whether init_from_data does anything: the trainer gathers the sample of training images only then.
  virtual bool initialises_from_data() const { return false; }
};
using Model = std::shared_ptr<ModelImpl>;

struct ModelEntry {
  std::string name;
  std::string summary;
  std::vector<std::string> options;  ///< model_params keys it understands
  std::function<Model(const ModelConfig&)> factory;
};

void register_model(ModelEntry entry);
std::vector<ModelEntry> model_entries();
std::vector<std::string> model_names();
/// Builds cfg.name; throws (input error) naming the valid models, attention modules or options.
Model create_model(const ModelConfig& cfg);
/// Checks names and option keys of cfg without building anything (so a bad flag fails before data are loaded).
void check_model_config(const ModelConfig& cfg);

}  // namespace attncnn
