#include <attncnn/attention/params.h>
#include <attncnn/error.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace attncnn {

namespace {
std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}
std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out.empty() ? "(none)" : out;
}
}  // namespace

Params Params::parse(const std::string& spec) {
  Params p;
  std::stringstream ss(spec);
  std::string item, last_key;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    // An item without '=' continues the previous value, so lists can be given: "attn_stages=2,3,4,layers=1,1,1,1".
    if (eq == std::string::npos && !last_key.empty()) {
      p.set(last_key, p.items().at(last_key) + "," + item);
      continue;
    }
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      input_error("option '" + item + "' in '" + spec + "': expected key=value");
    last_key = trim(item.substr(0, eq));
    p.set(last_key, trim(item.substr(eq + 1)));
  }
  return p;
}

Params& Params::set(const std::string& key, const std::string& value) {
  values_[key] = value;
  return *this;
}

double Params::get_double(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const char* s = it->second.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || errno == ERANGE)
    input_error("option " + key + "=" + it->second + ": expected a number");
  return v;
}

int64_t Params::get_int(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const char* s = it->second.c_str();
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  if (end == s || *end != '\0' || errno == ERANGE)
    input_error("option " + key + "=" + it->second + ": expected an integer");
  return v;
}

bool Params::get_bool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& v = it->second;
  if (v == "1" || v == "true" || v == "True" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "False" || v == "no" || v == "off") return false;
  input_error("option " + key + "=" + v + ": expected true or false");
}

std::string Params::get_string(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

void Params::check_keys(const std::vector<std::string>& allowed, const std::string& context) const {
  for (const auto& kv : values_) {
    if (std::find(allowed.begin(), allowed.end(), kv.first) == allowed.end())
      input_error("unknown option '" + kv.first + "' for " + context + "; valid options: " + join(allowed));
  }
}

std::string Params::to_string() const {
  std::string out;
  for (const auto& kv : values_) out += (out.empty() ? "" : ",") + kv.first + "=" + kv.second;
  return out;
}

}  // namespace attncnn
