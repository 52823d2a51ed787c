#pragma once
// The key under which libtorch's optimizers keep a parameter's state, shared by the checkpoint code and the
// foreach optimizers so both read and write the very entries the stock optimizers do.
#include <ATen/core/Tensor.h>

#include <sstream>
#include <string>
#include <type_traits>

namespace attncnn {
namespace detail {

// libtorch keys an optimizer's per-parameter state by the parameter's TensorImpl: as its printed address in
// 1.13 (std::string keys), as the pointer itself in later versions. The key type decides which.
template <typename Map>
typename Map::key_type state_key(const Map&, const at::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same<Key, std::string>::value) {
    std::ostringstream os;
    os << p.unsafeGetTensorImpl();
    return os.str();
  } else {
    return reinterpret_cast<Key>(p.unsafeGetTensorImpl());
  }
}

}  // namespace detail
}  // namespace attncnn
