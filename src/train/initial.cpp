#include <attncnn/error.h>
#include <attncnn/io/safetensors.h>
#include <attncnn/train/checkpoint.h>
#include <attncnn/train/initial.h>

#include <torch/torch.h>

#include <map>
#include <set>

namespace attncnn {

std::vector<std::string> classifier_names(ModelImpl& model) {
  std::string name;
  torch::nn::LinearImpl* last = nullptr;
  // include_self=false: the model may not be owned by a shared_ptr.
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto* l = item.value()->as<torch::nn::Linear>()) {
      last = l;
      name = item.key();
    }
  }
  const int64_t classes = model.config().num_classes;
  if (!last || last->options.out_features() != classes)
    runtime_error("model '" + model.config().name + "': no classifier found (expected a last Linear layer with " +
                  std::to_string(classes) + " outputs)");
  std::vector<std::string> out = {name + ".weight"};
  if (last->bias.defined()) out.push_back(name + ".bias");
  return out;
}

namespace {
// For an attncnn checkpoint, " (saved from model 'X', N classes)"; "" for a plain state dict. Rejects checkpoints of
// a newer format, whose tensors may mean something else.
std::string checkpoint_origin(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto fmt = meta.find("format");
  if (fmt == meta.end() || fmt->second != "attncnn") return "";
  auto version = meta.find("format_version");
  int v = 0;
  try {
    v = version == meta.end() ? 0 : std::stoi(version->second);
  } catch (const std::exception&) {
    v = 0;
  }
  if (v < 1 || v > kCheckpointVersion)
    input_error(path + ": checkpoint format version '" + (version == meta.end() ? "" : version->second) +
                "' is not supported (this build reads 1 to " + std::to_string(kCheckpointVersion) + ")");
  auto model = meta.find("model");
  if (model == meta.end()) return "";
  const ModelConfig saved = ModelConfig::from_json(model->second);
  return " (the checkpoint was saved from model '" + saved.name + "' with " + std::to_string(saved.num_classes) +
         " classes)";
}

// Whether the file's classifier differs from the model's only in its class count (the leading dimension).
bool other_class_count(const std::vector<std::string>& head, const std::map<std::string, torch::Tensor>& given,
                       const std::map<std::string, torch::Tensor>& own) {
  bool differs = false;
  for (const auto& name : head) {
    const auto& mine = own.at(name);
    const auto& theirs = given.at(name);
    if (mine.dim() != theirs.dim() || mine.dim() == 0) return false;
    if (mine.sizes().slice(1) != theirs.sizes().slice(1)) return false;
    differs = differs || mine.size(0) != theirs.size(0);
  }
  return differs;
}
}  // namespace

InitialCheckpointReport load_initial_checkpoint(ModelImpl& model, const std::string& path, bool reset_head) {
  SafeTensors file = load_safetensors(path);
  const std::string origin = checkpoint_origin(file.metadata, path);
  const auto head = classifier_names(model);
  const std::set<std::string> head_set(head.begin(), head.end());

  std::map<std::string, torch::Tensor> own, given(file.tensors.begin(), file.tensors.end());
  for (const auto& kv : state_dict(model)) own.emplace(kv.first, kv.second);
  size_t head_in_file = 0;
  for (const auto& name : head) head_in_file += given.count(name);
  // A file with part of a classifier is malformed: leave it to the strict check to name what is missing.
  const bool keep_fresh = reset_head || head_in_file == 0 ||
                          (head_in_file == head.size() && other_class_count(head, given, own));

  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  tensors.reserve(file.tensors.size() + head.size());
  for (auto& kv : file.tensors)
    if (!keep_fresh || !head_set.count(kv.first)) tensors.push_back(std::move(kv));
  // The model's own classifier stands in for the file's, so the strict check passes and copying changes nothing.
  if (keep_fresh)
    for (const auto& name : head) tensors.emplace_back(name, own.at(name).detach().clone());
  file.tensors.clear();
  given.clear();

  try {
    load_state_dict(model, tensors, path);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Input) throw;
    input_error(std::string(e.what()) + " (loading into model '" + model.config().name + "' with " +
                std::to_string(model.config().num_classes) + " classes)" + origin);
  }

  InitialCheckpointReport report;
  for (const auto& kv : state_dict(model)) {
    if (keep_fresh && head_set.count(kv.first))
      report.reset.push_back(kv.first);
    else
      report.loaded.push_back(kv.first);
  }
  return report;
}

}  // namespace attncnn
