#pragma once
/// One registry for every attention module, so any block can hold any module by name.
///
///   auto attn = attncnn::create_attention("sgate", 64, attncnn::Params::parse("rd_ratio=0.5"));
///
/// `create_attention("none", …)` returns nullptr: the block then has no attention and no parameters for it,
/// as timm's blocks do. Unknown names and unknown option keys throw attncnn::Error (input) listing the valid ones
/// (with the closest name when one is close).
///
/// Adding a module takes three things: its header (include/attncnn/attention/NAME.h), its source file
/// (src/attention/NAME.cpp, which defines `void register_NAME()` calling register_attention), and one line
/// `ATTNCNN_BUILTIN(NAME)` in src/attention/builtin.inc. The sources are found by CMake's glob.
#include <attncnn/attention/base.h>
#include <attncnn/attention/params.h>
#include <attncnn/registry.h>

#include <functional>
#include <string>
#include <vector>

namespace attncnn {

struct AttentionEntry {
  std::string name;
  std::string summary;                ///< one line for `attncnn list`
  std::vector<std::string> options;   ///< option keys the factory understands
  AttnOutput output = AttnOutput::Reweight;
  std::function<Attention(int64_t channels, const Params& params)> factory;
};

using AttentionRegistry = Registry<AttentionEntry>;
/// The registry of attention modules (kind "attention module", reserved name "none"), built-ins registered on
/// first use.
AttentionRegistry& attention_registry();

/// Adds an entry; a second entry under the same name replaces the first.
void register_attention(AttentionEntry entry);
/// All registered entries, sorted by name.
std::vector<AttentionEntry> attention_entries();
std::vector<std::string> attention_names();
/// The entry for `name`; throws (input error) listing the valid names when there is none.
AttentionEntry attention_entry(const std::string& name);
/// Builds module `name` for `channels` input channels, or nullptr for "none".
Attention create_attention(const std::string& name, int64_t channels, const Params& params = Params());

}  // namespace attncnn
