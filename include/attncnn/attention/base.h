#pragma once
/// The attention base type. Every module of the zoo derives from AttentionImpl, so a block can hold any of them
/// by name (see registry.h) and the explain tools can find their maps.
///
/// Map recording: off by default and free when off (no tensor is kept, no work is done). When switched on, each
/// forward replaces the module's maps with detached copies of what it computed:
///   - spatial maps N×1×H×W (or N×K×H×W for several heads or branches), values as the module used them;
///   - channel weights N×C.
#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace attncnn {

/// What an attention module returns.
enum class AttnOutput {
  Reweight,  ///< a tensor of the input's shape: the input reweighted (gates, residual attention)
  Pool,      ///< N×D vectors: the positions pooled with attention weights (a classifier head)
};

enum class MapKind { Spatial, Channel };

struct AttentionMap {
  std::string name;   ///< the map's name inside its module ("spatial", "channel", "branch_hw", …)
  MapKind kind;
  torch::Tensor value;
};

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(std::string type_name) : type_name_(std::move(type_name)) {}
  ~AttentionImpl() override = default;

  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual AttnOutput output() const { return AttnOutput::Reweight; }
  /// Width of the pooled vector for AttnOutput::Pool modules, 0 otherwise.
  virtual int64_t pooled_features() const { return 0; }

  /// The registry name this module was built under ("sgate", "attnpool", …).
  const std::string& type_name() const { return type_name_; }

  void set_record_maps(bool on) {
    record_ = on;
    if (!on) maps_.clear();
  }
  bool record_maps() const { return record_; }
  /// The maps of the last forward while recording was on; empty otherwise.
  const std::vector<AttentionMap>& maps() const { return maps_; }

 protected:
  bool recording() const { return record_; }
  /// Keeps a detached copy of `value` under `name`, replacing an earlier one. Call only when recording().
  void keep_map(const std::string& name, MapKind kind, const torch::Tensor& value);

 private:
  std::string type_name_;
  bool record_ = false;
  std::vector<AttentionMap> maps_;
};

/// Attention modules are held through the base type.
using Attention = std::shared_ptr<AttentionImpl>;

/// Switches map recording on or off for every attention module under `root`.
void set_record_maps(torch::nn::Module& root, bool on);

/// A recorded map with the dotted name of the layer that produced it (e.g. "layer3.1.attn").
struct LayerMap {
  std::string layer;
  std::string type;  ///< the module's registry name
  AttentionMap map;
};
/// Every recorded map under `root`, in module order.
std::vector<LayerMap> collect_maps(torch::nn::Module& root);

}  // namespace attncnn
