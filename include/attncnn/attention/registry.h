#pragma once
/// One registry for every attention module, so any block can hold any module by name.
///
///   auto attn = attncnn::create_attention("sgate", 64, attncnn::Params::parse("rd_ratio=0.5"));
///
/// `create_attention("none", …)` returns nullptr: the block then has no attention and no parameters for it,
/// as timm's blocks do. Unknown names and unknown option keys throw attncnn::Error (input) listing the valid ones.
#include <attncnn/attention/base.h>
#include <attncnn/attention/params.h>

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

/// Adds an entry; a second entry under the same name replaces the first.
void register_attention(AttentionEntry entry);
/// All registered entries, sorted by name.
std::vector<AttentionEntry> attention_entries();
std::vector<std::string> attention_names();
/// The entry for `name`; throws (input error) listing the valid names when there is none.
const AttentionEntry& attention_entry(const std::string& name);
/// Builds module `name` for `channels` input channels, or nullptr for "none".
Attention create_attention(const std::string& name, int64_t channels, const Params& params = Params());

}  // namespace attncnn
