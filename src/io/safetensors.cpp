#include <attncnn/error.h>
#include <attncnn/io/files.h>
#include <attncnn/io/safetensors.h>

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

namespace attncnn {

namespace {

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  size_t size;
};
const DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2}, {"I8", torch::kInt8, 1}, {"U8", torch::kUInt8, 1}, {"BOOL", torch::kBool, 1},
};

const DtypeInfo& dtype_of(torch::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d;
  runtime_error(std::string("safetensors: cannot store dtype ") + c10::toString(t));
}

}  // namespace

const torch::Tensor& SafeTensors::at(const std::string& name) const {
  for (const auto& kv : tensors)
    if (kv.first == name) return kv.second;
  input_error("safetensors: no tensor named '" + name + "'");
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> cpu;
  cpu.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& kv : tensors) {
    if (kv.first == "__metadata__") runtime_error("safetensors: '__metadata__' is not a valid tensor name");
    if (header.contains(kv.first)) runtime_error("safetensors: tensor name '" + kv.first + "' appears twice");
    auto t = kv.second.detach().to(torch::kCPU).contiguous();
    const auto& d = dtype_of(t.scalar_type());
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * d.size;
    header[kv.first] = {{"dtype", d.name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    cpu.push_back(t);
  }
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');  // the format pads the header with spaces to 8-byte alignment
  std::string out;
  out.reserve(8 + h.size() + offset);
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += h;
  // nlohmann::json orders keys alphabetically, so the data are laid out in the same order as the offsets above
  // only if we append in insertion order: offsets were assigned in insertion order, which is what we do here.
  for (const auto& t : cpu) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  atomic_write(path, out);
}

SafeTensors parse_safetensors(const std::string& bytes, const std::string& path) {
  if (bytes.size() < 8) input_error(path + ": not a safetensors file: " + std::to_string(bytes.size()) +
                                    " bytes, expected at least 8");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  if (n > bytes.size() - 8)
    input_error(path + ": header length " + std::to_string(n) + " exceeds the file's remaining " +
                std::to_string(bytes.size() - 8) + " bytes");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const std::exception& e) {
    input_error(path + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) input_error(path + ": header must be a JSON object");
  const uint64_t data_size = bytes.size() - 8 - n;
  const char* data = bytes.data() + 8 + n;

  SafeTensors st;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) input_error(path + ": __metadata__ must be an object of strings");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) input_error(path + ": __metadata__." + m.key() + " must be a string");
        st.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string& name = it.key();
    const auto& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      input_error(path + ": tensor '" + name + "': expected dtype, shape and data_offsets");
    if (!e["dtype"].is_string()) input_error(path + ": tensor '" + name + "': dtype must be a string");
    const std::string dt = e["dtype"].get<std::string>();
    const DtypeInfo* info = nullptr;
    for (const auto& d : kDtypes)
      if (dt == d.name) info = &d;
    if (!info) input_error(path + ": tensor '" + name + "': unknown dtype '" + dt +
                           "'; supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL");
    if (!e["shape"].is_array()) input_error(path + ": tensor '" + name + "': shape must be an array");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_unsigned()) input_error(path + ": tensor '" + name + "': shape entries must be non-negative integers");
      const uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > data_size / v + 1)
        input_error(path + ": tensor '" + name + "': shape is larger than the file's " + std::to_string(data_size) +
                    " data bytes");
      numel *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      input_error(path + ": tensor '" + name + "': data_offsets must be two non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size)
      input_error(path + ": tensor '" + name + "': data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                  "] out of range: the data section holds " + std::to_string(data_size) + " bytes");
    if (numel * info->size != en - b)
      input_error(path + ": tensor '" + name + "': shape needs " + std::to_string(numel * info->size) +
                  " bytes but data_offsets span " + std::to_string(en - b));
    spans.push_back({b, en, name});
    auto t = torch::empty(shape, torch::TensorOptions().dtype(info->type));
    if (en > b) std::memcpy(t.data_ptr(), data + b, en - b);
    st.tensors.emplace_back(name, t);
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  uint64_t expect = 0;
  for (const auto& s : spans) {
    if (s.begin < expect)
      input_error(path + ": tensor '" + s.name + "' overlaps the tensor before it (offset " +
                  std::to_string(s.begin) + " < " + std::to_string(expect) + ")");
    if (s.begin > expect)
      input_error(path + ": gap in the data section before tensor '" + s.name + "' (offset " +
                  std::to_string(s.begin) + ", expected " + std::to_string(expect) + ")");
    expect = s.end;
  }
  if (expect != data_size)
    input_error(path + ": data section holds " + std::to_string(data_size) + " bytes but the tensors cover " +
                std::to_string(expect));
  // Present tensors in file order, as Python's safetensors does when asked for keys in offset order.
  std::vector<std::pair<std::string, torch::Tensor>> ordered;
  for (const auto& s : spans)
    for (auto& kv : st.tensors)
      if (kv.first == s.name) ordered.push_back(kv);
  st.tensors = std::move(ordered);
  return st;
}

SafeTensors load_safetensors(const std::string& path) { return parse_safetensors(read_all(path), path); }

}  // namespace attncnn
