// Built instead of the exporter when CMake did not find libonnx: the API stays, and says what is missing.
#include <attncnn/error.h>
#include <attncnn/export/onnx.h>

namespace attncnn {

namespace {
const char* const kMissing =
    "ONNX export needs libonnx-dev (Debian: apt-get install libonnx-dev libprotobuf-dev) when attncnn is configured; "
    "this build was configured without it";
}  // namespace

bool onnx_export_available() { return false; }

std::map<std::string, std::string> onnx_unsupported_attention() { return {}; }

OnnxExportResult export_onnx(ModelImpl&, const OnnxExportOptions&, const std::string&) { input_error(kMissing); }

}  // namespace attncnn
