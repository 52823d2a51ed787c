#pragma once
// Typed option reading with range checks, shared by the zoo's registry factories. Every failure is an input error
// naming the module, the key, the value and what was expected.
#include <attncnn/attention/params.h>
#include <attncnn/error.h>

#include <string>
#include <vector>

namespace attncnn {
namespace opt {

inline double positive(const Params& p, const std::string& ctx, const std::string& key, double fallback) {
  const double v = p.get_double(key, fallback);
  if (!(v > 0)) input_error(ctx + ": " + key + "=" + p.get_string(key, "") + ": expected a positive number");
  return v;
}

inline double non_negative(const Params& p, const std::string& ctx, const std::string& key, double fallback) {
  const double v = p.get_double(key, fallback);
  if (!(v >= 0)) input_error(ctx + ": " + key + "=" + p.get_string(key, "") + ": expected a number >= 0");
  return v;
}

inline int64_t at_least(const Params& p, const std::string& ctx, const std::string& key, int64_t fallback,
                        int64_t min) {
  const int64_t v = p.get_int(key, fallback);
  if (v < min)
    input_error(ctx + ": " + key + "=" + std::to_string(v) + ": expected an integer >= " + std::to_string(min));
  return v;
}

/// rd_ratio / rd_channels / rd_divisor, as every timm reduction takes them.
struct Reduction {
  double rd_ratio;
  int64_t rd_channels;
  int64_t rd_divisor;
};
inline Reduction reduction(const Params& p, const std::string& ctx, double ratio, int64_t divisor) {
  return {positive(p, ctx, "rd_ratio", ratio), at_least(p, ctx, "rd_channels", 0, 0),
          at_least(p, ctx, "rd_divisor", divisor, 1)};
}

inline std::vector<std::string> with_reduction(std::vector<std::string> keys) {
  keys.insert(keys.end(), {"rd_ratio", "rd_channels", "rd_divisor"});
  return keys;
}

}  // namespace opt
}  // namespace attncnn
