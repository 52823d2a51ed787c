#pragma once
// Helpers shared by the backbone files: attention placement, stage selection and the classifier head.
#include <attncnn/attention/base.h>
#include <attncnn/models/model.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace attncnn::detail {

/// The 1-based stages that get an attention module: model_params `attn_stages` ("2,3,4"), or every stage of
/// 1..num_stages. Throws (input error) for a stage outside 1..num_stages or a malformed list.
std::set<int64_t> attn_stages(const ModelConfig& cfg, int64_t num_stages, const std::string& model);

/// Builds cfg.attn for `channels`, or nullptr for "none" or a stage left out. Throws (input error) when the module
/// pools (AttnOutput::Pool) and so cannot sit inside a block.
Attention block_attention(const ModelConfig& cfg, int64_t channels, const std::string& model);

/// A comma-separated list of positive integers ("3,4,6,3"); `fallback` when the key is absent. Throws (input
/// error) when the list does not have `count` items (count > 0) or an item is not a positive integer.
std::vector<int64_t> int_list(const Params& p, const std::string& key, std::vector<int64_t> fallback, size_t count,
                              const std::string& model);

/// The classifier pooling: nullptr for "avg" (x.mean({2,3})) or an attnpool module; `features` is set to the
/// width of the pooled vector.
Attention make_head(const ModelConfig& cfg, int64_t channels, int64_t& features);

/// Global pooling with the head built by make_head: N×C×H×W → N×features.
torch::Tensor pool_features(const Attention& head, const torch::Tensor& x);

/// model_params `drop_path_rate` (timm's name; default 0): the stochastic-depth rate of the last residual block.
/// Throws (input error) naming the value when it is not a number in [0, 1).
double drop_path_rate(const ModelConfig& cfg, const std::string& model);

/// The drop rate of residual block `index` (0-based) of `count` in the network, growing linearly from 0 for the first
/// block to `rate` for the last, as timm's ResNet: rate · index / (count − 1) (0 when count ≤ 1).
double block_drop_path(double rate, int64_t index, int64_t count);

/// Checks that x is N×in_channels×H×W; throws c10::Error naming the model otherwise.
void check_input(const torch::Tensor& x, int64_t in_channels, const std::string& model);

}  // namespace attncnn::detail
