#pragma once
/// The model base type and the model registry.
///
///   attncnn::ModelConfig cfg;
///   cfg.name = "seed_net"; cfg.num_classes = 10; cfg.in_channels = 1; cfg.attn = "sgate";
///   auto net = attncnn::create_model(cfg);
///   auto logits = net->forward(images);   // N×num_classes
///
/// A ModelConfig is everything needed to rebuild a model: checkpoints store it (to_json) and eval, predict and
/// explain rebuild the network from it. Unknown names and options throw attncnn::Error (input).
///
/// Model names may be aliases (attncnn/models/aliases.h: `seresnet50` = resnet50 + attn se). Call
/// resolve_model_aliases() on a configuration before logging, storing or validating it; create_model and
/// check_model_config resolve it themselves too, and a built model's config() is the resolved one.
///
/// Adding a backbone takes three things: its header (include/attncnn/models/NAME.h), its source file
/// (src/models/NAME.cpp, which defines `void register_NAME()` calling register_model with the model's default
/// input and class count), and one line `ATTNCNN_BUILTIN(NAME)` in src/models/builtin.inc.
#include <attncnn/attention/params.h>
#include <attncnn/registry.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace attncnn {

/// The ModelConfig::attn value that leaves the choice to the model: the alias's module for an alias, else
/// kStandardAttention. resolve_model_aliases replaces it with the module it stands for.
constexpr const char* kDefaultAttention = "default";
/// The module a model that is not an alias gets when its config asks for kDefaultAttention.
constexpr const char* kStandardAttention = "sgate";

struct ModelConfig {
  std::string name = "seed_net";
  int64_t in_channels = 3;
  int64_t num_classes = 10;
  int64_t image_size = 32;     ///< nominal input side (for info and export); convolutional models take any size
  std::string attn = kDefaultAttention;  ///< attention module by registry name, "none", or "default"
  Params attn_params;          ///< options for the attention module
  std::string head = "avg";    ///< classifier pooling: "avg" or "attnpool"
  Params head_params;          ///< options for the head (attnpool: num_heads)
  Params model_params;         ///< model-specific options

  /// JSON text holding every field, for checkpoint metadata.
  std::string to_json() const;
  /// Inverse of to_json; throws (input error) on a malformed or incomplete description. A stored alias name with
  /// an attn other than the alias's module and "default" comes from a checkpoint written before aliases were
  /// resolved first; its model was built with the alias's module, so it is resolved that way (name and attn
  /// replaced) instead of being rejected as a conflict.
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
  /// Builds the model from a resolved config (no alias, no "default" attn).
  std::function<Model(const ModelConfig&)> factory;
  std::vector<int64_t> input = {3, 32, 32};  ///< C, H, W the model is designed for (`attncnn info` default)
  int64_t num_classes = 10;                  ///< classes of the dataset it is designed for (`attncnn info` default)
};

using ModelRegistry = Registry<ModelEntry>;
/// The registry of models (kind "model"), built-ins and their aliases registered on first use. Its aliases are
/// the model aliases of attncnn/models/aliases.h (find(alias) gives the target's entry).
ModelRegistry& model_registry();

void register_model(ModelEntry entry);
/// Registered models, sorted by name (aliases not included: model_registry().aliases() or model_aliases()).
std::vector<ModelEntry> model_entries();
std::vector<std::string> model_names();
/// The entry of model `name`, or of the model alias `name` stands for; throws (input error) naming the valid
/// models when there is neither.
ModelEntry model_entry(const std::string& name);

/// cfg with its alias resolved and its "default" attn replaced by the module it stands for, the form to log,
/// store and validate:
///   {name: seresnet50, attn: default}              -> {name: resnet50, attn: se}
///   {name: ecaresnet50d, attn: eca, model_params: stem=cifar}
///                                                  -> {name: resnet50, attn: eca, model_params: stem=cifar,avg_down=1}
///   {name: resnet50, attn: default}                -> {name: resnet50, attn: sgate}
/// The alias's model options are merged under cfg.model_params (options given in cfg win); attn_params, head,
/// sizes and class count are kept. Throws (input error) when cfg.name is an alias and cfg.attn asks for another
/// module than the alias's (including "none"), naming both and the configuration that builds what was asked for.
/// Unknown names are left for check_model_config to report.
ModelConfig resolve_model_aliases(const ModelConfig& cfg);

/// Builds cfg (resolved first); throws (input error) naming the valid models, attention modules or options.
Model create_model(const ModelConfig& cfg);
/// Checks names and option keys of cfg (resolved first) without building anything (so a bad flag fails before
/// data are loaded).
void check_model_config(const ModelConfig& cfg);

}  // namespace attncnn
