#include <attncnn/attention/registry.h>
#include <attncnn/error.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "builtin.h"

namespace attncnn {

namespace {
std::map<std::string, AttentionEntry>& table() {
  static std::map<std::string, AttentionEntry> t;
  return t;
}
std::recursive_mutex& table_mutex() {
  static std::recursive_mutex m;
  return m;
}
void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_sgate();
    register_attnpool();
    register_squeeze_excite();
    register_eca();
    register_gather_excite();
    register_global_context();
    register_cbam();
    register_bam();
    register_coord();
    register_simam();
    register_triplet();
    register_selective_kernel();
    register_split_attn();
    register_non_local();
  });
}
}  // namespace

void register_attention(AttentionEntry entry) {
  std::lock_guard<std::recursive_mutex> lock(table_mutex());
  table()[entry.name] = std::move(entry);
}

std::vector<AttentionEntry> attention_entries() {
  ensure_builtins();
  std::lock_guard<std::recursive_mutex> lock(table_mutex());
  std::vector<AttentionEntry> out;
  for (const auto& kv : table()) out.push_back(kv.second);
  return out;
}

std::vector<std::string> attention_names() {
  std::vector<std::string> out;
  for (const auto& e : attention_entries()) out.push_back(e.name);
  return out;
}

const AttentionEntry& attention_entry(const std::string& name) {
  ensure_builtins();
  std::lock_guard<std::recursive_mutex> lock(table_mutex());
  auto it = table().find(name);
  if (it == table().end()) {
    std::string valid = "none";
    for (const auto& kv : table()) valid += ", " + kv.first;
    input_error("unknown attention module '" + name + "'; valid names: " + valid);
  }
  return it->second;
}

Attention create_attention(const std::string& name, int64_t channels, const Params& params) {
  if (name == "none" || name.empty()) {
    if (!params.empty()) input_error("attention 'none' takes no options, got '" + params.to_string() + "'");
    return nullptr;
  }
  const AttentionEntry& e = attention_entry(name);
  if (channels <= 0)
    input_error("attention '" + name + "': channels=" + std::to_string(channels) + ": expected a positive count");
  params.check_keys(e.options, "attention '" + name + "'");
  auto m = e.factory(channels, params);
  return m;
}

}  // namespace attncnn
