#include "common.h"

#include <attncnn/attention/registry.h>
#include <attncnn/error.h>

#include <torch/torch.h>

namespace attncnn::detail {

std::vector<int64_t> int_list(const Params& p, const std::string& key, std::vector<int64_t> fallback, size_t count,
                              const std::string& model) {
  if (!p.has(key)) return fallback;
  const std::string spec = p.get_string(key, "");
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find_first_of(",;/", start);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(start, end - start);
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v <= 0)
      input_error(model + ": model option " + key + "='" + spec + "': expected positive integers separated by ','");
    out.push_back(v);
    start = end + 1;
  }
  if (count > 0 && out.size() != count)
    input_error(model + ": model option " + key + "='" + spec + "': expected " + std::to_string(count) + " values");
  return out;
}

std::set<int64_t> attn_stages(const ModelConfig& cfg, int64_t num_stages, const std::string& model) {
  std::set<int64_t> out;
  if (!cfg.model_params.has("attn_stages")) {
    for (int64_t s = 1; s <= num_stages; ++s) out.insert(s);
    return out;
  }
  for (int64_t s : int_list(cfg.model_params, "attn_stages", {}, 0, model)) {
    if (s > num_stages)
      input_error(model + ": attn_stages='" + cfg.model_params.get_string("attn_stages", "") + "': stage " +
                  std::to_string(s) + " does not exist; expected stages in 1.." + std::to_string(num_stages));
    out.insert(s);
  }
  return out;
}

Attention block_attention(const ModelConfig& cfg, int64_t channels, const std::string& model) {
  auto a = create_attention(cfg.attn, channels, cfg.attn_params);
  if (a && a->output() != AttnOutput::Reweight)
    input_error(model + ": attention '" + cfg.attn + "' pools its input and cannot sit inside a block; use it as "
                "the classifier head instead (--head " + cfg.attn + ")");
  return a;
}

Attention make_head(const ModelConfig& cfg, int64_t channels, int64_t& features) {
  features = channels;
  if (cfg.head != "attnpool") return nullptr;
  auto pool = create_attention("attnpool", channels, cfg.head_params);
  features = pool->pooled_features();
  return pool;
}

torch::Tensor pool_features(const Attention& head, const torch::Tensor& x) {
  return head ? head->forward(x) : x.mean({2, 3});
}

double drop_path_rate(const ModelConfig& cfg, const std::string& model) {
  const double rate = cfg.model_params.get_double("drop_path_rate", 0.0);
  // Written so that NaN fails too.
  if (!(rate >= 0.0 && rate < 1.0))
    input_error(model + ": drop_path_rate=" + cfg.model_params.get_string("drop_path_rate", "") +
                ": expected a rate in [0, 1)");
  return rate;
}

double block_drop_path(double rate, int64_t index, int64_t count) {
  return count > 1 ? rate * static_cast<double>(index) / static_cast<double>(count - 1) : 0.0;
}

void check_input(const torch::Tensor& x, int64_t in_channels, const std::string& model) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == in_channels, model, ": expected input N×", in_channels, "×H×W, got ",
              x.sizes());
}

}  // namespace attncnn::detail
