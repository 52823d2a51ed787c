#pragma once
/// Parameter and multiply-accumulate counts of a model, total and per layer, from one forward pass.
///
///   auto net = attncnn::create_model(cfg);
///   auto info = attncnn::analyze_model(*net, {3, 224, 224});
///   // info.macs: 4.09e9 for resnet50; info.layers[i]: name, type, output shape, params, MACs
///
/// How MACs are counted: libtorch has no forward hooks, so analyze_model runs one forward pass (batch 1, eval mode,
/// no grad) with a thread-local ATen operator observer (at::RecordFunction). Every operator that receives a
/// parameter of a module is attributed to that module (by the parameter's storage address); its output shape is
/// recorded, and for convolutions (any dimension, grouped and depthwise included) and linear layers the MACs are
/// output elements × (input channels / groups) × kernel elements (linear: output elements × input features). Matrix
/// products between activations (bmm/matmul, e.g. in attention pooling) are counted too, as one unattributed
/// total. Not counted: BatchNorm, activations, pooling, element-wise products and additions, interpolation.
#include <attncnn/models/model.h>

#include <cstdint>
#include <string>
#include <vector>

namespace attncnn {

struct LayerInfo {
  std::string name;                   ///< dotted module name ("layer1.0.conv1")
  std::string type;                   ///< module type ("Conv2d", "BatchNorm2d", "Linear", …)
  std::vector<int64_t> output_shape;  ///< of the last call in the traced forward, batch 1; empty if never called
  int64_t params = 0;                 ///< parameters held directly by this module
  int64_t macs = 0;                   ///< per image
  int64_t calls = 0;                  ///< operator calls attributed to this module in one forward
};

struct AttentionSite {
  std::string name;  ///< dotted module name ("layer3.1.se")
  std::string type;  ///< registry/type name ("sgate", "softmask", …)
  int64_t params = 0;
  int64_t macs = 0;  ///< MACs of the layers inside it
};

struct ModelInfo {
  std::vector<int64_t> input_shape;   ///< C, H, W
  std::vector<int64_t> output_shape;  ///< of the model, batch 1
  int64_t params = 0;                 ///< all parameters
  int64_t trainable_params = 0;
  int64_t buffers = 0;                ///< buffer elements (BatchNorm running statistics, …)
  int64_t macs = 0;                   ///< conv_macs + linear_macs + matmul_macs
  int64_t conv_macs = 0, linear_macs = 0, matmul_macs = 0;
  std::vector<LayerInfo> layers;      ///< every module that holds parameters, in module order
  std::vector<AttentionSite> attention;  ///< every AttentionImpl under the model, in module order
};

/// Traces one forward of a 1×C×H×W zero-mean random input through `model` (switched to eval mode for the pass
/// and back afterwards). Throws c10::Error when the forward fails for that input size.
ModelInfo analyze_model(ModelImpl& model, const std::vector<int64_t>& chw);

/// The input cfg's model is designed for: its registry entry's ModelEntry::input (aliases resolved), with H and W
/// 32 when model_params has stem=cifar. E.g. {3, 224, 224} for resnet50 and seresnet50, {3, 32, 32} for resnet20
/// and for resnet50 with stem=cifar. Throws (input error) for an unknown model or a conflicting alias.
std::vector<int64_t> nominal_input(const ModelConfig& cfg);
/// The class count cfg's model is designed for: its entry's ModelEntry::num_classes (1000 for the ImageNet
/// family, 10 for the CIFAR and Fashion-MNIST ones).
int64_t nominal_num_classes(const ModelConfig& cfg);

}  // namespace attncnn
