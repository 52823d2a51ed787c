#pragma once
/// Starting a run from trained weights (timm's --initial-checkpoint): the weights of another run, or of a Python
/// model, copied into a freshly built model before the optimizer is made. Unlike resuming, nothing but the weights
/// is taken over (no optimizer state, epoch or schedule position).
///
///   auto model = attncnn::create_model(cfg);                 // e.g. 5 classes
///   auto r = attncnn::load_initial_checkpoint(*model, "imagenet.safetensors", /*reset_head=*/false);
///   // r.loaded: every name copied; r.reset: {"fc.weight", "fc.bias"} when the file had another class count
///
/// The file is an attncnn checkpoint (train/checkpoint.h) or a plain safetensors state dict as PyTorch names it
/// (e.g. `safetensors.torch.save_file(model.state_dict(), path)` on a timm or torchvision model of the same
/// architecture). Weights in other dtypes (fp16, bf16, fp64) are converted to the model's.
#include <attncnn/models/model.h>

#include <string>
#include <vector>

namespace attncnn {

struct InitialCheckpointReport {
  std::vector<std::string> loaded;  ///< state_dict names copied from the file, in the model's order
  std::vector<std::string> reset;   ///< the classifier's names, left as the model initialised them
};

/// The classifier of `model`: the names (`<module>.weight`, `<module>.bias` when it has one) of its last Linear
/// module, which must have config().num_classes outputs (every built-in model ends in one: `fc`, `classifier.1`).
/// Throws (runtime error) naming the model when it has no such layer.
std::vector<std::string> classifier_names(ModelImpl& model);

/// Loads the weights in `path` into `model` (on the model's devices and dtypes). Strict: every parameter and buffer
/// of the model must be in the file with its shape, and the file may hold nothing else; otherwise throws (input
/// error) naming the file and listing the missing, unexpected and mismatched names (with both shapes); for an attncnn
/// checkpoint the message also names the model it was saved from. The classifier (classifier_names) is the
/// exception: it is left as initialised, and its names need not be in the file, when `reset_head` is set, when the
/// file's classifier has another class count (the same shape but for the leading dimension), or when the file has
/// no classifier at all (a state dict saved with num_classes=0); otherwise it is copied like the rest. A classifier
/// whose other dimensions differ is a mismatch. Throws (input error) for a file that is not valid safetensors (see
/// io/safetensors.h: everything a file declares is checked against its size) or an attncnn checkpoint of a newer
/// format version. On error `model` is unchanged.
InitialCheckpointReport load_initial_checkpoint(ModelImpl& model, const std::string& path, bool reset_head);

}  // namespace attncnn
