#pragma once
/// Model aliases in timm's naming: a name that stands for a registered model with a fixed attention module and
/// model options, e.g. `seresnet50` = resnet50 + attn se, `ecaresnet50d` = resnet50 + attn eca + stem=deep,
/// avg_down=1, `cbam_resnet20` = CIFAR resnet20 + attn cbam.
///
/// The aliases are registered in the model registry (model_registry().aliases(); `attncnn list` shows them with
/// what they resolve to), so create_model({.name = "seresnet50"}) works. resolve_model_aliases (models/model.h)
/// turns an alias into the configuration it stands for: name and attn replaced, the alias's model options merged
/// under the given ones. The built model's config() is the resolved one (name "resnet50", attn "se"), so a
/// checkpoint rebuilds the same network without knowing the alias.
#include <attncnn/attention/params.h>
#include <attncnn/models/model.h>

#include <string>
#include <vector>

namespace attncnn {

struct ModelAlias {
  std::string alias;    ///< "seresnet50"
  std::string model;    ///< the registered model it builds: "resnet50"
  std::string attn;     ///< the attention module it puts in: "se" ("none" for none)
  Params model_params;  ///< options it adds: stem=deep,avg_down=1 for timm's "d" variants
};

/// Every alias, sorted by name.
std::vector<ModelAlias> model_aliases();
/// The alias entry for `name`, or nullptr when `name` is not an alias.
const ModelAlias* find_model_alias(const std::string& name);

}  // namespace attncnn
