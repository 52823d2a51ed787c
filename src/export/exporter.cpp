#include "exporter.h"

#include <attncnn/attention/batch_norm.h>
#include <attncnn/error.h>
#include <attncnn/models/drop_path.h>

#include <torch/torch.h>

#include <mutex>
#include <variant>

namespace attncnn::onnx_export {

namespace nn = torch::nn;

namespace {
std::unordered_map<std::type_index, ModuleExport>& table() {
  static std::unordered_map<std::type_index, ModuleExport> t;
  return t;
}

void ensure_registered() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_layer_exporters();
    register_attention_exporters();
    register_model_exporters();
  });
}

// The explicit per-axis padding of a convolution. ConvNdOptions::padding_t is a c10::variant in libtorch 1.13 and a
// std::variant in 2.x: the unqualified get_if finds the right one by argument-dependent lookup.
template <size_t D, class Options>
std::vector<int64_t> conv_pads(const Options& o, const std::string& layer) {
  using std::get_if;
  const auto* pad = get_if<torch::ExpandingArray<D>>(&o.padding());
  const auto* zeros = get_if<torch::enumtype::kZeros>(&o.padding_mode());
  if (!pad || !zeros)
    input_error("layer '" + layer + "': only convolutions with explicit zero padding export to ONNX");
  std::vector<int64_t> pads((**pad).begin(), (**pad).end());
  pads.insert(pads.end(), (**pad).begin(), (**pad).end());
  return pads;
}

template <size_t D>
std::vector<int64_t> vec(const torch::ExpandingArray<D>& a) {
  return std::vector<int64_t>((*a).begin(), (*a).end());
}
}  // namespace

void add_exporter(std::type_index type, ModuleExport fn) { table()[type] = std::move(fn); }

Exporter::Exporter(Graph& graph, nn::Module& root, bool fold_bn, bool with_maps)
    : g(graph), root_(root), fold_bn_(fold_bn), with_maps_(with_maps) {
  ensure_registered();
  for (const auto& p : root.named_parameters()) tensor_keys_[p.value().unsafeGetTensorImpl()] = p.key();
  for (const auto& b : root.named_buffers()) tensor_keys_[b.value().unsafeGetTensorImpl()] = b.key();
  module_names_[&root] = "";
  for (const auto& m : root.named_modules("", /*include_self=*/false)) module_names_[m.value().get()] = m.key();
}

std::string Exporter::name_of(const nn::Module& m) const {
  auto it = module_names_.find(&m);
  return it == module_names_.end() ? m.name() : it->second;
}

std::string Exporter::key_of(const torch::Tensor& t) const {
  auto it = tensor_keys_.find(t.unsafeGetTensorImpl());
  if (it == tensor_keys_.end()) runtime_error("onnx export: a tensor of layer '" + g.scope() + "' is not in the model's state");
  return it->second;
}

std::string Exporter::param(const torch::Tensor& t) { return g.weight(key_of(t), t); }

Value Exporter::conv(const Value& x, nn::Conv2dImpl& c, attncnn::BatchNorm2dImpl* bn) {
  const std::string layer = name_of(c);
  const auto& o = c.options;
  auto w = c.weight.detach();
  std::string wname = key_of(c.weight), bname;
  if (c.bias.defined()) bname = key_of(c.bias);
  std::string doc;
  if (bn && fold_bn_) {
    // y = γ (conv(x) + b − μ) / √(σ² + ε) + β, computed in float64 so that tiny ε (1e-12) does not lose bits.
    const auto scale = bn_scale(*bn);
    const auto mean = bn->running_mean.detach().to(torch::kDouble);
    const auto beta = bn->bias.defined() ? bn->bias.detach().to(torch::kDouble) : torch::zeros_like(mean);
    const auto b0 = c.bias.defined() ? c.bias.detach().to(torch::kDouble) : torch::zeros_like(mean);
    w = w.to(torch::kDouble) * scale.view({-1, 1, 1, 1});
    const auto b = (b0 - mean) * scale + beta;
    doc = "folded: " + name_of(*bn);
    if (bname.empty()) bname = layer.empty() ? "bias" : layer + ".bias";
    g.weight(bname, b, doc);
    ++folded_;
  } else if (c.bias.defined()) {
    g.weight(bname, c.bias);
  }
  g.weight(wname, w, doc);
  std::vector<int64_t> shape(w.sizes().begin(), w.sizes().end());
  Value y = g.conv(x, wname, shape, bname, vec(o.stride()), conv_pads<2>(o, layer), vec(o.dilation()), o.groups());
  if (bn && !fold_bn_) y = batch_norm(y, *bn);
  return y;
}

void Exporter::check_stats(attncnn::BatchNorm2dImpl& bn) const {
  if (!bn.running_mean.defined() || !bn.running_var.defined())
    input_error("layer '" + name_of(bn) + "': a BatchNorm without running statistics normalises with the batch's own "
                "and has no fixed eval-mode form to export");
}

torch::Tensor Exporter::bn_scale(attncnn::BatchNorm2dImpl& bn) const {
  check_stats(bn);
  const auto var = bn.running_var.detach().to(torch::kDouble);
  const auto gamma = bn.weight.defined() ? bn.weight.detach().to(torch::kDouble) : torch::ones_like(var);
  return gamma / (var + bn.options.eps()).sqrt();
}

Value Exporter::conv1d(const Value& x, nn::Conv1dImpl& c) {
  const auto& o = c.options;
  const std::string wname = param(c.weight);
  const std::string bname = c.bias.defined() ? param(c.bias) : "";
  std::vector<int64_t> shape(c.weight.sizes().begin(), c.weight.sizes().end());
  return g.conv(x, wname, shape, bname, vec(o.stride()), conv_pads<1>(o, name_of(c)), vec(o.dilation()), o.groups());
}

Value Exporter::batch_norm(const Value& x, attncnn::BatchNorm2dImpl& bn) {
  check_stats(bn);
  const auto c = bn.running_mean.size(0);
  const std::string prefix = name_of(bn);
  const std::string scale = bn.weight.defined() ? param(bn.weight) : g.weight(prefix + ".weight", torch::ones({c}));
  const std::string bias = bn.bias.defined() ? param(bn.bias) : g.weight(prefix + ".bias", torch::zeros({c}));
  return g.batch_norm(x, scale, bias, param(bn.running_mean), param(bn.running_var), bn.options.eps());
}

Value Exporter::linear(const Value& x, nn::LinearImpl& fc) {
  std::vector<int64_t> shape(fc.weight.sizes().begin(), fc.weight.sizes().end());
  return g.gemm(x, param(fc.weight), shape, fc.bias.defined() ? param(fc.bias) : "");
}

Value Exporter::gate(const std::string& gate_layer, const Value& x) {
  if (gate_layer == "sigmoid") return g.unary("Sigmoid", x);
  if (gate_layer == "hard_sigmoid") return g.hard_sigmoid(x);
  input_error("layer '" + g.scope() + "': gate_layer=" + gate_layer + ": expected sigmoid or hard_sigmoid");
}

void Exporter::map(const AttentionImpl& m, const std::string& name, const std::function<Value()>& value) {
  if (!with_maps_) return;
  const std::string layer = name_of(m);
  maps_.emplace_back(layer.empty() ? name : layer + "." + name, value());
}

Value Exporter::sequence(const std::vector<std::shared_ptr<nn::Module>>& mods, const Value& x) {
  Value y = x;
  for (size_t i = 0; i < mods.size(); ++i) {
    auto* c = dynamic_cast<nn::Conv2dImpl*>(mods[i].get());
    auto* bn = i + 1 < mods.size() ? dynamic_cast<attncnn::BatchNorm2dImpl*>(mods[i + 1].get()) : nullptr;
    if (c && bn) {
      Scope s(*this, *c);
      y = conv(y, *c, bn);
      ++i;
    } else {
      y = emit(*mods[i], y);
    }
  }
  return y;
}

Value Exporter::emit(nn::Module& m, const Value& x) {
  auto it = table().find(std::type_index(typeid(m)));
  if (it != table().end()) {
    Scope s(*this, m);
    return it->second(*this, m, x);
  }
  if (auto* seq = dynamic_cast<nn::SequentialImpl*>(&m)) return sequence(seq->children(), x);
  const std::string layer = name_of(m);
  if (auto* a = dynamic_cast<AttentionImpl*>(&m)) {
    const auto& reasons = unsupported_attention();
    auto r = reasons.find(a->type_name());
    input_error("layer '" + layer + "': attention module '" + a->type_name() + "' cannot be exported to ONNX: " +
                (r != reasons.end() ? r->second : "it has no ONNX exporter"));
  }
  input_error("layer '" + layer + "': module type " + m.name() + " has no ONNX exporter");
}

// torch::nn layers that the models hold directly or inside Sequentials.
void register_layer_exporters() {
  add_exporter<nn::Conv2dImpl>([](Exporter& ex, nn::Conv2dImpl& c, const Value& x) { return ex.conv(x, c); });
  add_exporter<attncnn::BatchNorm2dImpl>(
      [](Exporter& ex, attncnn::BatchNorm2dImpl& bn, const Value& x) { return ex.batch_norm(x, bn); });
  add_exporter<nn::LinearImpl>([](Exporter& ex, nn::LinearImpl& fc, const Value& x) { return ex.linear(x, fc); });
  add_exporter<nn::ReLUImpl>([](Exporter& ex, nn::ReLUImpl&, const Value& x) { return ex.g.unary("Relu", x); });
  add_exporter<nn::ReLU6Impl>([](Exporter& ex, nn::ReLU6Impl&, const Value& x) { return ex.g.clip(x, 0.0f, 6.0f); });
  // Identity in eval mode.
  add_exporter<nn::IdentityImpl>([](Exporter&, nn::IdentityImpl&, const Value& x) { return x; });
  add_exporter<nn::DropoutImpl>([](Exporter&, nn::DropoutImpl&, const Value& x) { return x; });
  add_exporter<DropPathImpl>([](Exporter&, DropPathImpl&, const Value& x) { return x; });
  add_exporter<nn::AvgPool2dImpl>([](Exporter& ex, nn::AvgPool2dImpl& p, const Value& x) {
    const auto& o = p.options;
    if (o.divisor_override())
      input_error("layer '" + ex.name_of(p) + "': AvgPool2d with divisor_override has no ONNX equivalent");
    auto pads = vec(o.padding());
    pads.insert(pads.end(), pads.begin(), pads.end());
    return ex.g.avg_pool(x, vec(o.kernel_size()), vec(o.stride()), pads, o.ceil_mode(), o.count_include_pad());
  });
}

}  // namespace attncnn::onnx_export
