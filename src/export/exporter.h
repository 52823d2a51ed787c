#pragma once
// The walk over a model's modules that export_onnx runs: one function per module type, looked up by the module's
// dynamic type (a table filled by attention.cpp and models.cpp), each emitting through Graph what the module's
// forward() computes in eval mode. Exporters name initializers by the state_dict keys of the tensors they use
// (Exporter::param) and report attention maps through Exporter::map.
#include <attncnn/attention/base.h>

#include <functional>
#include <memory>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "graph.h"

namespace torch::nn {
class Conv1dImpl;
class Conv2dImpl;
class LinearImpl;
}  // namespace torch::nn

namespace attncnn {
class BatchNorm2dImpl;
}  // namespace attncnn

namespace attncnn::onnx_export {

class Exporter;
using ModuleExport = std::function<Value(Exporter&, torch::nn::Module&, const Value&)>;

/// Registers the exporter of module type T (exact dynamic type).
void add_exporter(std::type_index type, ModuleExport fn);
template <class T>
void add_exporter(Value (*fn)(Exporter&, T&, const Value&)) {
  add_exporter(std::type_index(typeid(T)),
               [fn](Exporter& ex, torch::nn::Module& m, const Value& x) { return fn(ex, dynamic_cast<T&>(m), x); });
}

class Exporter {
 public:
  /// `root` is the model; its named parameters, buffers and modules give the names.
  Exporter(Graph& graph, torch::nn::Module& root, bool fold_bn, bool with_maps);

  Graph& g;

  /// Emits module `m` on `x` (its exporter by type; a Sequential runs its children, folding Conv2d + BatchNorm2d
  /// pairs). Throws attncnn::Error (input) naming the layer and type when there is no exporter.
  Value emit(torch::nn::Module& m, const Value& x);

  /// The dotted name of `m` under the root ("layer1.0.se"; "" for the root).
  std::string name_of(const torch::nn::Module& m) const;
  /// An initializer holding parameter or buffer `t` under its state_dict key.
  std::string param(const torch::Tensor& t);

  // Layers, with the initializers named after the modules' tensors.
  Value conv(const Value& x, torch::nn::Conv2dImpl& conv, attncnn::BatchNorm2dImpl* bn = nullptr);
  Value conv1d(const Value& x, torch::nn::Conv1dImpl& conv);
  Value batch_norm(const Value& x, attncnn::BatchNorm2dImpl& bn);
  Value linear(const Value& x, torch::nn::LinearImpl& fc);
  /// timm's gate by name: "sigmoid" or "hard_sigmoid".
  Value gate(const std::string& gate_layer, const Value& x);

  /// Emits `mods` in order, folding each Conv2d followed by a BatchNorm2d.
  Value sequence(const std::vector<std::shared_ptr<torch::nn::Module>>& mods, const Value& x);
  /// γ/√(σ²+ε) of `bn`, per channel, in float64.
  torch::Tensor bn_scale(attncnn::BatchNorm2dImpl& bn) const;
  bool fold_bn() const { return fold_bn_; }
  void count_folded() { ++folded_; }

  /// Records map `name` of attention module `m` as the graph output "<layer>.<name>"; `value` emits it and is
  /// called only when maps are asked for.
  void map(const AttentionImpl& m, const std::string& name, const std::function<Value()>& value);
  const std::vector<std::pair<std::string, Value>>& maps() const { return maps_; }
  int64_t folded_bn() const { return folded_; }

 private:
  std::string key_of(const torch::Tensor& t) const;
  /// Throws (input error) naming the layer when `bn` keeps no running statistics.
  void check_stats(attncnn::BatchNorm2dImpl& bn) const;

  torch::nn::Module& root_;
  bool fold_bn_, with_maps_;
  int64_t folded_ = 0;
  std::unordered_map<const void*, std::string> tensor_keys_;
  std::unordered_map<const torch::nn::Module*, std::string> module_names_;
  std::vector<std::pair<std::string, Value>> maps_;
};

/// Sets the graph's scope to the module's name for the lifetime of the guard.
class Scope {
 public:
  Scope(Exporter& ex, const torch::nn::Module& m) : g_(ex.g), saved_(ex.g.scope()) { g_.set_scope(ex.name_of(m)); }
  ~Scope() { g_.set_scope(saved_); }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  Graph& g_;
  std::string saved_;
};

// Filled by exporter.cpp (torch::nn layers), attention.cpp and models.cpp; called once, before the first export.
void register_layer_exporters();
void register_attention_exporters();
void register_model_exporters();
/// Registry names of attention modules that have no exporter, with the reason (attention.cpp).
const std::unordered_map<std::string, std::string>& unsupported_attention();

}  // namespace attncnn::onnx_export
