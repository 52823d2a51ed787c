#include <attncnn/attention/base.h>
#include <attncnn/models/info.h>

#include <ATen/record_function.h>
#include <torch/torch.h>

#include <unordered_map>

namespace attncnn {

namespace {

// The observer's state. RecordFunction callbacks are plain function pointers, so the trace lives in a thread-local.
struct Trace {
  std::unordered_map<const void*, size_t> owner;  // parameter storage address → index into layers
  std::vector<LayerInfo>* layers = nullptr;
  int64_t conv = 0, linear = 0, matmul = 0;
  // One entry per operator in flight: what it was claimed as. Operators nested inside a claimed one (aten::conv2d →
  // aten::convolution → aten::mkldnn_convolution) are not counted again.
  enum Claim : int { None, Layer, MatMul };
  struct Frame {
    Claim claim;
    size_t layer;
    int64_t k = 0;       ///< MACs per output element, read from the inputs when the operator starts
    bool conv = false;
  };
  std::vector<Frame> stack;
  bool claimed_above() const {
    for (const auto& f : stack)
      if (f.claim != None) return true;
    return false;
  }
};
thread_local Trace* g_trace = nullptr;

// Operators that only re-view a parameter (libtorch's linear transposes its weight before addmm); the operator that
// computes with the view is the one to attribute.
bool is_view(const std::string& op) {
  for (const char* v : {"aten::t", "aten::transpose", "aten::view", "aten::reshape", "aten::expand", "aten::permute",
                        "aten::contiguous", "aten::unsqueeze", "aten::squeeze", "aten::detach", "aten::alias",
                        "aten::as_strided", "aten::to", "aten::slice", "aten::select", "aten::numpy_T"})
    if (op == v) return true;
  return false;
}

bool is_matmul(const std::string& op) {
  return op == "aten::bmm" || op == "aten::matmul" || op == "aten::mm" || op == "aten::baddbmm" ||
         op == "aten::einsum";
}

// MACs per output element of operator `op` given its inputs: the contracted width of a matrix product, or
// in/groups × kernel of a convolution whose weight is an owned parameter. Read in the start callback: in
// libtorch 2.x the inputs a RecordFunction sees are boxed on the dispatcher's stack and gone by the end callback.
int64_t macs_per_output(const Trace& t, const std::string& op, c10::ArrayRef<const c10::IValue> inputs, bool* conv) {
  auto tensor_at = [&](size_t i) -> torch::Tensor {
    return i < inputs.size() && inputs[i].isTensor() ? inputs[i].toTensor() : torch::Tensor();
  };
  *conv = op.find("conv") != std::string::npos && op.find("transpose") == std::string::npos;
  if (*conv) {
    // The weight is the first parameter input with at least 3 dimensions: out × in/groups × kernel….
    for (const auto& v : inputs) {
      if (!v.isTensor()) continue;
      const auto& w = v.toTensor();
      if (w.defined() && w.has_storage() && w.dim() >= 3 && t.owner.count(w.data_ptr()))
        return w.numel() / w.size(0);
    }
    return 0;
  }
  // Linear layers reach ATen as aten::linear (weight out × in), or as addmm(bias, x, wᵀ) / matmul(x, wᵀ)
  // (libtorch's functional linear): MACs are output elements × the contracted width.
  if (op == "aten::linear") {
    auto w = tensor_at(1);
    return w.defined() && w.dim() == 2 ? w.size(1) : 0;
  }
  if (op == "aten::addmm" || op == "aten::baddbmm") {
    auto a = tensor_at(1);
    return a.defined() && a.dim() >= 1 ? a.size(-1) : 0;
  }
  if (op == "aten::matmul" || op == "aten::mm" || op == "aten::bmm") {
    auto a = tensor_at(0);
    return a.defined() && a.dim() >= 1 ? a.size(-1) : 0;
  }
  return 0;
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  Trace* t = g_trace;
  if (!t) return nullptr;
  Trace::Frame frame{Trace::None, 0};
  if (!t->claimed_above() && !is_view(fn.name())) {
    const auto inputs = fn.inputs();
    for (const auto& v : inputs) {
      if (!v.isTensor()) continue;
      const auto& tensor = v.toTensor();
      if (!tensor.defined() || !tensor.has_storage()) continue;
      auto it = t->owner.find(tensor.data_ptr());
      if (it != t->owner.end()) {
        frame = {Trace::Layer, it->second};
        break;
      }
    }
    if (frame.claim == Trace::None && is_matmul(fn.name())) frame.claim = Trace::MatMul;
    if (frame.claim != Trace::None) frame.k = macs_per_output(*t, fn.name(), inputs, &frame.conv);
  }
  t->stack.push_back(frame);
  return nullptr;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext*) {
  Trace* t = g_trace;
  if (!t || t->stack.empty()) return;
  const Trace::Frame frame = t->stack.back();
  t->stack.pop_back();
  if (frame.claim == Trace::None) return;
  const auto& outs = fn.outputs();
  if (outs.empty() || !outs[0].isTensor()) return;
  const auto out = outs[0].toTensor();
  if (frame.claim == Trace::MatMul) {
    t->matmul += out.numel() * frame.k;
    return;
  }
  LayerInfo& layer = (*t->layers)[frame.layer];
  layer.output_shape = out.sizes().vec();
  layer.calls += 1;
  const int64_t m = out.numel() * frame.k;
  layer.macs += m;
  (frame.conv ? t->conv : t->linear) += m;
}

std::string short_type(const torch::nn::Module& m) {
  std::string n = m.name();
  const auto colon = n.rfind("::");
  if (colon != std::string::npos) n = n.substr(colon + 2);
  if (n.size() > 4 && n.compare(n.size() - 4, 4, "Impl") == 0) n.resize(n.size() - 4);
  return n;
}

}  // namespace

std::vector<int64_t> nominal_input(const ModelConfig& cfg) {
  const ModelConfig r = resolve_model_aliases(cfg);
  std::vector<int64_t> chw = model_entry(r.name).input;
  if (r.model_params.get_string("stem", "default") == "cifar") chw = {chw[0], 32, 32};
  return chw;
}

int64_t nominal_num_classes(const ModelConfig& cfg) {
  return model_entry(resolve_model_aliases(cfg).name).num_classes;
}

ModelInfo analyze_model(ModelImpl& model, const std::vector<int64_t>& chw) {
  TORCH_CHECK(chw.size() == 3 && chw[0] > 0 && chw[1] > 0 && chw[2] > 0, "analyze_model: expected C, H, W > 0, got ",
              c10::IntArrayRef(chw));
  ModelInfo info;
  info.input_shape = chw;
  Trace trace;
  trace.layers = &info.layers;
  // include_self=false: the model may live on the stack, where libtorch cannot hand it out as a shared_ptr.
  std::vector<std::pair<std::string, const torch::nn::Module*>> mods = {{"", &model}};
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false))
    mods.emplace_back(item.key(), item.value().get());
  for (const auto& item : mods) {
    const auto& mod = *item.second;
    const auto direct = mod.named_parameters(/*recurse=*/false);
    if (auto* a = dynamic_cast<const AttentionImpl*>(&mod)) {
      AttentionSite site{item.first, a->type_name(), 0, 0};
      for (const auto& p : mod.parameters()) site.params += p.numel();
      info.attention.push_back(site);
    }
    if (direct.is_empty()) continue;
    LayerInfo layer;
    layer.name = item.first;
    layer.type = short_type(mod);
    for (const auto& p : direct) {
      layer.params += p.value().numel();
      trace.owner[p.value().data_ptr()] = info.layers.size();
    }
    info.layers.push_back(layer);
  }
  for (const auto& p : model.parameters()) {
    info.params += p.numel();
    if (p.requires_grad()) info.trainable_params += p.numel();
  }
  for (const auto& b : model.buffers()) info.buffers += b.numel();

  const bool was_training = model.is_training();
  model.eval();
  auto device = torch::kCPU;
  for (const auto& p : model.parameters()) {
    device = p.device().type();
    break;
  }
  auto x = torch::randn({1, chw[0], chw[1], chw[2]}, torch::TensorOptions().device(device));
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    g_trace = &trace;
    auto handle = at::addThreadLocalCallback(
        at::RecordFunctionCallback(&on_start, &on_end).needsInputs(true).needsOutputs(true).scopes(
            {at::RecordScope::FUNCTION}));
    try {
      y = model.forward(x);
    } catch (...) {
      at::removeCallback(handle);
      g_trace = nullptr;
      model.train(was_training);
      throw;
    }
    at::removeCallback(handle);
    g_trace = nullptr;
  }
  model.train(was_training);
  info.output_shape = y.sizes().vec();
  info.conv_macs = trace.conv;
  info.linear_macs = trace.linear;
  info.matmul_macs = trace.matmul;
  info.macs = trace.conv + trace.linear + trace.matmul;
  for (auto& site : info.attention) {
    const std::string prefix = site.name.empty() ? "" : site.name + ".";
    for (const auto& l : info.layers)
      if (l.name.compare(0, prefix.size(), prefix) == 0) site.macs += l.macs;
  }
  return info;
}

}  // namespace attncnn
