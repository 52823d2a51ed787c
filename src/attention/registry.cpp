#include <attncnn/attention/registry.h>
#include <attncnn/error.h>

#include "builtin.h"

namespace attncnn {

AttentionRegistry& attention_registry() {
  static AttentionRegistry registry(
      "attention module",
      [](AttentionRegistry&) {
#define ATTNCNN_BUILTIN(name) register_##name();
#include "builtin.inc"
#undef ATTNCNN_BUILTIN
      },
      {"none"});
  return registry;
}

void register_attention(AttentionEntry entry) { attention_registry().add(std::move(entry)); }

std::vector<AttentionEntry> attention_entries() { return attention_registry().entries(); }

std::vector<std::string> attention_names() { return attention_registry().names(); }

AttentionEntry attention_entry(const std::string& name) { return attention_registry().find(name); }

Attention create_attention(const std::string& name, int64_t channels, const Params& params) {
  if (name == "none" || name.empty()) {
    if (!params.empty()) input_error("attention 'none' takes no options, got '" + params.to_string() + "'");
    return nullptr;
  }
  const AttentionEntry e = attention_entry(name);
  if (channels <= 0)
    input_error("attention '" + name + "': channels=" + std::to_string(channels) + ": expected a positive count");
  params.check_keys(e.options, "attention '" + name + "'");
  return e.factory(channels, params);
}

}  // namespace attncnn
