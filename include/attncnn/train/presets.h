#pragma once
/// Built-in training settings, chosen with `attncnn train --preset NAME`. A preset is a settings layer like a
/// --config file: it sits below the config file and the command line, so any flag still overrides it.
///
/// The time-to-accuracy presets train a network with an attention module as fast as this library can to a fixed
/// test accuracy (docs/benchmarks.md has the measured times). They evaluate on the test set once, after the last
/// epoch.
#include <string>
#include <vector>

namespace attncnn {

struct TrainPreset {
  std::string name;
  std::string summary;
  std::string settings;  ///< a JSON object of settings keys (see train/config.h)
};

const std::vector<TrainPreset>& train_presets();
/// The preset called `name`; throws (input error) naming the valid presets.
const TrainPreset& find_train_preset(const std::string& name);

}  // namespace attncnn
