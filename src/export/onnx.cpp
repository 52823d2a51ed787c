#include <attncnn/attention/registry.h>
#include <attncnn/error.h>
#include <attncnn/export/onnx.h>
#include <attncnn/io/files.h>
#include <attncnn/version.h>

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "exporter.h"

namespace attncnn {

namespace {
using onnx_export::Exporter;
using onnx_export::Graph;
using onnx_export::kBatch;
using onnx_export::Value;

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

void check_options(const OnnxExportOptions& o, const std::vector<int64_t>& chw, const ModelConfig& cfg) {
  if (o.opset < 13 || o.opset > 17)
    input_error("--opset " + std::to_string(o.opset) + ": expected 13 to 17 (the opsets this ONNX library checks)");
  if (!o.dynamic_batch && o.batch_size < 1)
    input_error("batch size " + std::to_string(o.batch_size) + ": expected at least 1");
  if (chw.size() != 3 || chw[0] < 1 || chw[1] < 1 || chw[2] < 1)
    input_error("--input " + shape_text(chw) + ": expected CxHxW with positive sizes");
  if (chw[0] != cfg.in_channels)
    input_error("--input " + shape_text(chw) + ": model '" + cfg.name + "' takes " +
                std::to_string(cfg.in_channels) + " channels");
  for (const auto* v : {&o.mean, &o.std})
    if (!v->empty() && static_cast<int64_t>(v->size()) != chw[0])
      input_error(std::string(v == &o.mean ? "mean" : "std") + ": " + std::to_string(v->size()) +
                  " values for " + std::to_string(chw[0]) + " channels");
  if (o.with_preprocess && (o.mean.empty() || o.std.empty()))
    input_error("--with-preprocess needs the normalisation (mean and std); the weights file has none");
  for (double s : o.std)
    if (!(s > 0)) input_error("std " + std::to_string(s) + ": expected positive values");
}

// The model's logits for a zero image, which checks that it takes this input size at all.
std::vector<int64_t> reference_output(ModelImpl& model, const std::vector<int64_t>& chw) {
  torch::NoGradGuard no_grad;
  const auto params = model.parameters();
  const auto device = params.empty() ? torch::Device(torch::kCPU) : params.front().device();
  try {
    auto y = model.forward(torch::zeros({1, chw[0], chw[1], chw[2]}, torch::TensorOptions().device(device)));
    return std::vector<int64_t>(y.sizes().begin(), y.sizes().end());
  } catch (const c10::Error& e) {
    input_error("--input " + shape_text(chw) + ": model '" + model.config().name +
                "' cannot take this size: " + e.what_without_backtrace());
  }
}

// uint8 pixels → (x/255 − mean)/std as one multiply-add per channel, as the library normalises (NormalizeAffine).
Value preprocess(Graph& g, const Value& image, const OnnxExportOptions& o) {
  const int64_t c = image.dim(1);
  auto scale = torch::empty({c, 1, 1}, torch::kDouble), shift = torch::empty({c, 1, 1}, torch::kDouble);
  for (int64_t i = 0; i < c; ++i) {
    scale[i] = 1.0 / (255.0 * o.std[static_cast<size_t>(i)]);
    shift[i] = -o.mean[static_cast<size_t>(i)] / o.std[static_cast<size_t>(i)];
  }
  g.set_scope("preprocess");
  auto x = g.cast(image, onnx::TensorProto::FLOAT);
  const Value s{g.weight("preprocess.scale", scale, "1 / (255 std), per channel"), {c, 1, 1}};
  const Value t{g.weight("preprocess.shift", shift, "-mean / std, per channel"), {c, 1, 1}};
  auto y = g.binary("Add", g.binary("Mul", x, s), t);
  g.set_scope("");
  return y;
}

void set_metadata(onnx::ModelProto& model, const std::map<std::string, std::string>& props) {
  for (const auto& kv : props) {
    auto* p = model.add_metadata_props();
    p->set_key(kv.first);
    p->set_value(kv.second);
  }
}

// Checker, then strict shape inference (which also merges the declared output shapes with the inferred ones).
void check(onnx::ModelProto& model, const std::string& path) {
  try {
    onnx::checker::check_model(model);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1));
  } catch (const std::exception& e) {
    runtime_error(path + ": the exported graph does not pass ONNX's checks: " + e.what());
  }
}
}  // namespace

bool onnx_export_available() { return true; }

std::map<std::string, std::string> onnx_unsupported_attention() {
  std::map<std::string, std::string> out;
  for (const auto& kv : onnx_export::unsupported_attention()) out[kv.first] = kv.second;
  return out;
}

OnnxExportResult export_onnx(ModelImpl& model, const OnnxExportOptions& o, const std::string& path) {
  const ModelConfig& cfg = model.config();
  const std::vector<int64_t> chw =
      o.input.empty() ? std::vector<int64_t>{cfg.in_channels, cfg.image_size, cfg.image_size} : o.input;
  check_options(o, chw, cfg);
  model.eval();
  const auto ref = reference_output(model, chw);

  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("attncnn");
  proto.set_producer_version(ATTNCNN_VERSION_STRING);
  proto.set_doc_string("attncnn model " + cfg.name + (cfg.attn.empty() ? "" : " with attention " + cfg.attn));
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(o.opset);
  auto* graph = proto.mutable_graph();
  graph->set_name(cfg.name);

  Graph g(graph, o.opset);
  const int64_t batch = o.dynamic_batch ? kBatch : o.batch_size;
  const std::vector<int64_t> in_shape = {batch, chw[0], chw[1], chw[2]};
  OnnxExportResult r;
  r.input = o.with_preprocess ? "image" : "input";
  r.input_shape = in_shape;
  Value x = g.add_input(r.input, o.with_preprocess ? onnx::TensorProto::UINT8 : onnx::TensorProto::FLOAT, in_shape);
  if (o.with_preprocess) x = preprocess(g, x, o);

  Exporter ex(g, model, o.fold_bn, o.with_maps);
  const Value logits = ex.emit(model, x);
  if (logits.shape != std::vector<int64_t>{batch, ref.at(1)})
    runtime_error("onnx export of '" + cfg.name + "': the graph's output is " + shape_text(logits.shape) +
                  " but the model gives N×" + std::to_string(ref.at(1)));
  g.add_output(logits, "logits");
  r.outputs.push_back("logits");
  nlohmann::json maps = nlohmann::json::array();
  for (const auto& m : ex.maps()) {
    g.add_output(m.second, m.first);
    r.outputs.push_back(m.first);
    maps.push_back(m.first);
  }

  std::map<std::string, std::string> props = o.metadata;
  props["model"] = cfg.to_json();
  props["input"] = nlohmann::json(chw).dump();
  props["input_name"] = r.input;
  props["input_type"] = o.with_preprocess ? "uint8 pixels, N×C×H×W; normalised inside the graph"
                                          : "float32 N×C×H×W, normalised: (pixel/255 - mean)/std";
  props["mean"] = nlohmann::json(o.mean).dump();
  props["std"] = nlohmann::json(o.std).dump();
  props["class_names"] = nlohmann::json(o.class_names).dump();
  props["maps"] = maps.dump();
  set_metadata(proto, props);

  check(proto, path);
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) runtime_error(path + ": could not serialise the ONNX model");
  atomic_write(path, bytes);
  r.nodes = g.node_count();
  r.initializers = graph->initializer_size();
  r.folded_bn = ex.folded_bn();
  r.bytes = static_cast<int64_t>(bytes.size());
  return r;
}

}  // namespace attncnn
