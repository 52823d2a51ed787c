#pragma once
/// ONNX export of an attncnn model, written from the library's own modules (no tracing, no Python).
///
///   attncnn::CheckpointInfo info;
///   auto net = attncnn::load_checkpoint("best.safetensors", &info);
///   auto opt = attncnn::onnx_options_from(info);   // mean, std, input size, class names
///   opt.with_maps = true;                          // attention maps as extra graph outputs
///   auto r = attncnn::export_onnx(*net, opt, "model.onnx");
///
/// The graph is the model in eval mode: BatchNorm with its running statistics (folded into the convolution before
/// it unless fold_bn is false), no dropout or drop-path. Each module type has its own exporter (src/export/), which
/// emits the operators its forward() computes; initializers are named by the state_dict keys of the tensors they
/// hold (a folded convolution keeps its weight's key and gets a `.bias` beside it, its doc_string naming the
/// BatchNorm folded in).
///
/// Graph:
///   input   "input", float32 N×C×H×W, normalised as in training: (pixel/255 − mean)/std
///           with with_preprocess: "image", uint8 N×C×H×W pixels; the normalisation is the graph's first two nodes
///   output  "logits", float32 N×num_classes
///           with with_maps: one output per attention map that `attncnn explain` shows, named "<layer>.<map>"
///           ("layer3.1.se.channel", "attn.spatial"): spatial maps N×K×H'×W', channel weights N×C
///   N is the symbolic dimension "batch" with dynamic_batch, else fixed at batch_size; H and W are fixed.
///   metadata_props: model (ModelConfig JSON), input ([C,H,W]), input_name, input_type, mean, std, class_names,
///   maps (JSON array of output names), and every entry of `metadata`.
///
/// The file is checked as it is written: ONNX's checker and strict shape inference run on the model, the shapes it
/// infers for the outputs must equal the exporter's, and only then is the file replaced (atomically).
///
/// Errors: attncnn::Error (input) for options out of range (naming the option and value), an input shape the
/// model cannot take (naming it and the model's own error), a module that cannot be exported (naming its layer,
/// its type and why); attncnn::Error (runtime) when the checker or shape inference rejects the graph or the file
/// cannot be written. Built without libonnx (see onnx_export_available), export_onnx throws an input error saying
/// that export needs libonnx-dev.
#include <attncnn/models/checkpoint.h>
#include <attncnn/models/model.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace attncnn {

struct OnnxExportOptions {
  int64_t opset = 17;              ///< ONNX opset, 13 to 17
  bool dynamic_batch = true;       ///< batch dimension "batch"; false: fixed at batch_size
  int64_t batch_size = 1;          ///< the batch of a fixed-batch graph
  std::vector<int64_t> input;      ///< C, H, W; empty: the model's in_channels and image_size²
  bool fold_bn = true;             ///< fold BatchNorm into the convolution before it
  bool with_maps = false;          ///< attention maps as extra outputs
  bool with_preprocess = false;    ///< uint8 input, normalised in the graph (needs mean and std)
  std::vector<double> mean, std;   ///< per channel, of [0,1] pixels (recorded; used by with_preprocess)
  std::vector<std::string> class_names;
  std::map<std::string, std::string> metadata;  ///< extra metadata_props
};

struct OnnxExportResult {
  std::string input;                 ///< "input" or "image"
  std::vector<std::string> outputs;  ///< "logits", then the maps
  std::vector<int64_t> input_shape;  ///< N, C, H, W (N = -1 for a dynamic batch)
  int64_t nodes = 0;
  int64_t initializers = 0;
  int64_t folded_bn = 0;             ///< BatchNorms folded into convolutions
  int64_t bytes = 0;                 ///< size of the file written
};

/// Whether this build can write ONNX files (libonnx was found when it was configured).
bool onnx_export_available();

/// Options with the checkpoint's preprocessing: input, mean, std, class names, and its dataset, epoch and metrics as
/// metadata.
OnnxExportOptions onnx_options_from(const CheckpointInfo& info);

/// Writes `model` to `path` as ONNX (see above); the model is put in eval mode. Throws as described above.
OnnxExportResult export_onnx(ModelImpl& model, const OnnxExportOptions& options, const std::string& path);

/// Attention modules (registry names) the exporter has no exporter for, with the reason; empty when every registered
/// module exports.
std::map<std::string, std::string> onnx_unsupported_attention();

}  // namespace attncnn
