#include <attncnn/attention/base.h>
#include <attncnn/attention/common.h>

#include <cmath>

namespace attncnn {

void AttentionImpl::keep_map(const std::string& name, MapKind kind, const torch::Tensor& value) {
  auto v = value.detach();
  for (auto& m : maps_) {
    if (m.name == name) {
      m.kind = kind;
      m.value = v;
      return;
    }
  }
  maps_.push_back({name, kind, v});
}

void set_record_maps(torch::nn::Module& root, bool on) {
  // include_self=false: the root may live on the stack, where libtorch cannot hand it out as a shared_ptr.
  if (auto* a = dynamic_cast<AttentionImpl*>(&root)) a->set_record_maps(on);
  for (const auto& m : root.modules(/*include_self=*/false)) {
    if (auto* a = dynamic_cast<AttentionImpl*>(m.get())) a->set_record_maps(on);
  }
}

std::vector<LayerMap> collect_maps(torch::nn::Module& root) {
  std::vector<LayerMap> out;
  if (auto* a = dynamic_cast<AttentionImpl*>(&root))
    for (const auto& m : a->maps()) out.push_back({"", a->type_name(), m});
  for (const auto& item : root.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    if (auto* a = dynamic_cast<AttentionImpl*>(item.value().get())) {
      for (const auto& m : a->maps()) out.push_back({item.key(), a->type_name(), m});
    }
  }
  return out;
}

int64_t make_divisible(double v, int64_t divisor, int64_t min_value, double round_limit) {
  if (min_value <= 0) min_value = divisor;
  int64_t new_v = std::max<int64_t>(min_value, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (new_v < round_limit * v) new_v += divisor;
  return new_v;
}

int64_t reduced_channels(int64_t channels, double rd_ratio, int64_t rd_channels, int64_t rd_divisor) {
  if (rd_channels > 0) return rd_channels;
  return make_divisible(channels * rd_ratio, rd_divisor, 0, 0.0);
}

}  // namespace attncnn
