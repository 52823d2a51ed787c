#include <attncnn/error.h>
#include <attncnn/models/wide_resnet.h>

#include <torch/torch.h>

#include "builtin.h"

namespace attncnn {

void register_wide_resnet() {
  struct Def {
    int64_t depth, k;
  };
  for (const Def d : {Def{16, 8}, Def{28, 10}, Def{40, 4}}) {
    const std::string name = "wrn" + std::to_string(d.depth) + "_" + std::to_string(d.k);
    register_model({name,
                    "wide ResNet WRN-" + std::to_string(d.depth) + "-" + std::to_string(d.k) +
                        " (Zagoruyko & Komodakis 2016, pre-activation, CIFAR layout)",
                    {"dropout", "attn_stages", "drop_path_rate"}, [d](const ModelConfig& cfg) -> Model {
                      const double dropout = cfg.model_params.get_double("dropout", 0.0);
                      if (dropout < 0 || dropout >= 1)
                        input_error(cfg.name + ": dropout=" + cfg.model_params.get_string("dropout", "") +
                                    ": expected a probability in [0, 1)");
                      const int64_t n = (d.depth - 4) / 6;
                      return std::make_shared<PreActResNetImpl>(
                          cfg, 16, std::vector<int64_t>{16 * d.k, 32 * d.k, 64 * d.k}, std::vector<int64_t>{n, n, n},
                          dropout);
                    }});
  }
}

}  // namespace attncnn
