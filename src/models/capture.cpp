#include <attncnn/error.h>
#include <attncnn/models/capture.h>

namespace attncnn {

namespace detail {
Capture*& active_capture() {
  thread_local Capture* active = nullptr;
  return active;
}
void capture_store(Capture& cap, const char* name, const at::Tensor& x) {
  for (auto& p : cap.points_) {
    if (p.first == name) {
      p.second = x;
      return;
    }
  }
  cap.points_.emplace_back(name, x);
}
}  // namespace detail

Capture::Capture() : outer_(detail::active_capture()) { detail::active_capture() = this; }
Capture::~Capture() { detail::active_capture() = outer_; }

std::vector<std::string> Capture::names() const {
  std::vector<std::string> out;
  for (const auto& p : points_) out.push_back(p.first);
  return out;
}

bool Capture::has(const std::string& name) const {
  for (const auto& p : points_)
    if (p.first == name) return true;
  return false;
}

at::Tensor Capture::get(const std::string& name) const {
  for (const auto& p : points_)
    if (p.first == name) return p.second;
  std::string list;
  for (const auto& p : points_) list += (list.empty() ? "" : ", ") + p.first;
  input_error("layer '" + name + "' is not a capture point of this model (expected one of: " +
              (list.empty() ? std::string("none; the model marks no capture points") : list) + ")");
}

}  // namespace attncnn
