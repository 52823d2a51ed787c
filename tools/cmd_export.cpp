// attncnn export: a checkpoint as an ONNX file, with its preprocessing recorded and optionally the attention maps.
#include <attncnn/error.h>
#include <attncnn/export/onnx.h>
#include <attncnn/io/files.h>
#include <attncnn/models/checkpoint.h>

#include <iostream>

#include "commands.h"

namespace attncnn::cli {

namespace {
std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + (s[i] < 0 ? std::string("N") : std::to_string(s[i]));
  return out;
}
}  // namespace

Runner add_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write a checkpoint as an ONNX file (preprocessing in its metadata, "
                                           "optionally the attention maps as outputs)");
  struct Opts {
    std::string weights, format = "onnx", out, input;
    OnnxExportOptions onnx;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("--weights,-w", o->weights, "Checkpoint (.safetensors) written by attncnn train")->required();
  cmd->add_option("--format", o->format, "Output format (onnx)")->capture_default_str();
  cmd->add_option("--out,-o", o->out, "File to write (replaced atomically)")->required();
  cmd->add_option("--opset", o->onnx.opset, "ONNX opset, 13 to 17")->capture_default_str();
  cmd->add_flag("--dynamic-batch,!--no-dynamic-batch", o->onnx.dynamic_batch,
                "Batch dimension named 'batch' (default); --no-dynamic-batch fixes it at --batch-size");
  cmd->add_option("--batch-size,-b", o->onnx.batch_size, "The fixed batch with --no-dynamic-batch")
      ->capture_default_str();
  cmd->add_option("--input", o->input,
                  "Input CxHxW (default: the checkpoint's); H and W may differ where the model takes other sizes");
  cmd->add_flag("!--no-fold-bn", o->onnx.fold_bn, "Keep BatchNorm nodes instead of folding them into the conv before");
  cmd->add_flag("--with-maps", o->onnx.with_maps,
                "Add the attention maps `attncnn explain` shows as outputs named <layer>.<map>");
  cmd->add_flag("--with-preprocess", o->onnx.with_preprocess,
                "Take uint8 pixels (input 'image') and normalise them inside the graph");
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
  cmd->footer("The mean, std, input size and class names of the checkpoint are stored in the file's metadata_props. "
              "The file is checked with ONNX's checker and shape inference before it replaces --out.");
  return [o]() {
    if (o->format != "onnx") input_error("--format " + o->format + ": expected onnx");
    if (!onnx_export_available())
      input_error("export: ONNX export needs libonnx-dev (Debian: apt-get install libonnx-dev libprotobuf-dev) when "
                  "attncnn is configured; this build has none");
    if (is_dir(o->out)) input_error("--out " + o->out + ": a folder; expected a file name such as model.onnx");
    if (!is_dir(parent_dir(o->out)))
      input_error("--out " + o->out + ": folder " + parent_dir(o->out) + " does not exist");
    set_threads(o->threads);
    CheckpointInfo info;
    auto model = load_checkpoint(o->weights, &info);
    OnnxExportOptions opt = onnx_options_from(info);
    const OnnxExportOptions& asked = o->onnx;
    opt.opset = asked.opset;
    opt.dynamic_batch = asked.dynamic_batch;
    opt.batch_size = asked.batch_size;
    opt.fold_bn = asked.fold_bn;
    opt.with_maps = asked.with_maps;
    opt.with_preprocess = asked.with_preprocess;
    if (!o->input.empty()) opt.input = parse_chw(o->input);
    const auto r = export_onnx(*model, opt, o->out);
    std::cout << "wrote " << o->out << " (" << r.bytes << " bytes): opset " << opt.opset << ", input '" << r.input
              << "' " << shape_text(r.input_shape) << (opt.with_preprocess ? " uint8" : " float32")
              << (opt.dynamic_batch ? " (dynamic batch)" : "") << ", " << r.nodes << " nodes, " << r.initializers
              << " initializers, " << r.folded_bn << " BatchNorm folded\n  outputs:";
    for (const auto& out : r.outputs) std::cout << " " << out;
    std::cout << "\n";
    if (opt.with_maps && r.outputs.size() == 1) std::cout << "  (the model has no attention maps)\n";
    return 0;
  };
}

}  // namespace attncnn::cli
