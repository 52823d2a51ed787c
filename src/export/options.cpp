// What export needs from a checkpoint; built with and without libonnx.
#include <attncnn/export/onnx.h>

#include <nlohmann/json.hpp>

namespace attncnn {

OnnxExportOptions onnx_options_from(const CheckpointInfo& info) {
  OnnxExportOptions o;
  o.input = info.input;
  o.mean = info.mean;
  o.std = info.std;
  o.class_names = info.class_names;
  if (!info.dataset.empty()) o.metadata["dataset"] = info.dataset;
  o.metadata["epoch"] = std::to_string(info.epoch);
  if (!info.metrics.empty()) o.metadata["metrics"] = nlohmann::json(info.metrics).dump();
  return o;
}

}  // namespace attncnn
