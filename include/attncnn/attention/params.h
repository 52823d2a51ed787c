#pragma once
/// Module options given by name, as on the command line (`--attn-opt rd_ratio=0.25,kernel_size=5`) or in a
/// checkpoint's metadata. Each registry entry lists the keys it understands; anything else is rejected.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace attncnn {

class Params {
 public:
  Params() = default;
  /// Parses "key=value,key=value". An item without '=' continues the previous value, so list values need no
  /// quoting: "attn_stages=2,3,4,layers=1,1,1,1" gives attn_stages "2,3,4" and layers "1,1,1,1". Throws
  /// attncnn::Error (input) on a malformed item (an empty key or value, or a first item without '=').
  static Params parse(const std::string& spec);

  Params& set(const std::string& key, const std::string& value);
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  bool empty() const { return values_.empty(); }
  const std::map<std::string, std::string>& items() const { return values_; }

  /// Typed getters: return `fallback` when the key is absent; throw (input error) when the value does not parse.
  double get_double(const std::string& key, double fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;

  /// Throws (input error) naming the first key not in `allowed`, and listing `allowed`, for `context`.
  void check_keys(const std::vector<std::string>& allowed, const std::string& context) const;

  /// "key=value,key=value" in key order; parse(to_string()) gives the same Params.
  std::string to_string() const;

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace attncnn
