#pragma once
/// Training settings as data: the keys of args.json and of `attncnn train --config FILE` (JSON or YAML).
///
///   # run.yaml
///   model: seed_net
///   attn: sgate
///   model_opt: {width: 32}      # or "width=32"
///   epochs: 5
///   lr: 0.003
///
/// Keys are the long flag names with '_' for '-' (batch_size, warmup_epochs, attn_opt, ...), listed by
/// train_setting_keys(). Layers apply in order, later ones winning: defaults, the file, the command line.
/// Unknown keys and mistyped values throw attncnn::Error (input) naming the key and the source.
#include <attncnn/train/trainer.h>

#include <string>
#include <vector>

namespace attncnn {

/// Every settings key, in the order args.json lists them.
const std::vector<std::string>& train_setting_keys();

/// The complete settings of `cfg` as an indented JSON object (the content of args.json).
std::string train_settings_json(const TrainConfig& cfg);

/// Applies the keys of a JSON object (text) to `cfg`; keys not present keep their value. `source` names the
/// origin in errors (a file path, "command line").
void apply_train_settings(TrainConfig& cfg, const std::string& json_object, const std::string& source);

/// Reads a settings file into JSON object text: `.json` is parsed as JSON, anything else as YAML (a superset).
/// Plain YAML scalars are typed (true/false, integers, decimals, null); quoted ones stay strings.
/// Throws (input error) naming the file on a missing file, a syntax error, or a top level that is not a mapping.
std::string read_settings_file(const std::string& path);

}  // namespace attncnn
