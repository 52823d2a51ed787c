// ONNX exporters of the attention zoo, one function per module type, each following its module's forward() (the
// formulas are in the module's header). Maps are the ones the module records for `attncnn explain`.
#include <attncnn/attention/attnpool.h>
#include <attncnn/attention/bam.h>
#include <attncnn/attention/cbam.h>
#include <attncnn/attention/coord.h>
#include <attncnn/attention/eca.h>
#include <attncnn/attention/gather_excite.h>
#include <attncnn/attention/global_context.h>
#include <attncnn/attention/layers.h>
#include <attncnn/attention/non_local.h>
#include <attncnn/attention/selective_kernel.h>
#include <attncnn/attention/sgate.h>
#include <attncnn/attention/simam.h>
#include <attncnn/attention/split_attn.h>
#include <attncnn/attention/squeeze_excite.h>
#include <attncnn/attention/triplet.h>

#include <torch/torch.h>

#include "exporter.h"

namespace attncnn::onnx_export {

namespace {

Value mul(Exporter& ex, const Value& a, const Value& b) { return ex.g.binary("Mul", a, b); }
Value add(Exporter& ex, const Value& a, const Value& b) { return ex.g.binary("Add", a, b); }
Value relu(Exporter& ex, const Value& x) { return ex.g.unary("Relu", x); }
Value sigmoid(Exporter& ex, const Value& x) { return ex.g.unary("Sigmoid", x); }
Value mean(Exporter& ex, const Value& x, std::vector<int64_t> axes, bool keep = true) {
  return ex.g.reduce("ReduceMean", x, axes, keep);
}
Value amax(Exporter& ex, const Value& x, std::vector<int64_t> axes, bool keep = true) {
  return ex.g.reduce("ReduceMax", x, axes, keep);
}
// ½·a + ½·b, as the modules write it.
Value half_sum(Exporter& ex, const Value& a, const Value& b) {
  return add(ex, ex.g.binary("Mul", a, 0.5f), ex.g.binary("Mul", b, 0.5f));
}

// ---- shared layers ----

Value conv_norm_act(Exporter& ex, ConvNormActImpl& m, const Value& x) {
  auto y = ex.conv(x, *m.conv, m.bn.get());
  return m.options.apply_act() ? relu(ex, y) : y;
}

Value layer_norm_2d(Exporter& ex, LayerNorm2dImpl& m, const Value& x) {
  // Over the channels at each position: (x − μ) / √(σ² + ε) · w + b.
  auto d = ex.g.binary("Sub", x, mean(ex, x, {1}));
  auto var = mean(ex, mul(ex, d, d), {1});
  auto y = ex.g.binary("Div", d, ex.g.unary("Sqrt", ex.g.binary("Add", var, static_cast<float>(m.eps))));
  const std::string layer = ex.name_of(m);
  const Value w{ex.g.weight(layer + ".weight", m.weight.view({-1, 1, 1}), "reshaped to C×1×1"), {m.channels, 1, 1}};
  const Value b{ex.g.weight(layer + ".bias", m.bias.view({-1, 1, 1}), "reshaped to C×1×1"), {m.channels, 1, 1}};
  return add(ex, mul(ex, y, w), b);
}

Value conv_mlp(Exporter& ex, ConvMlpImpl& m, const Value& x) {
  auto h = ex.conv(x, *m.fc1);
  if (m.norm) h = ex.emit(*m.norm, h);
  return ex.conv(relu(ex, h), *m.fc2);
}

// ---- modules ----

Value sgate(Exporter& ex, SGateImpl& m, const Value& x) {
  auto a = sigmoid(ex, ex.conv(relu(ex, ex.conv(x, *m.conv1)), *m.conv2));
  ex.map(m, "spatial", [&] { return a; });
  return mul(ex, x, a);
}

Value squeeze(Exporter& ex, const Value& x, bool add_maxpool) {
  auto s = mean(ex, x, {2, 3});
  return add_maxpool ? half_sum(ex, s, amax(ex, x, {2, 3})) : s;
}

Value se(Exporter& ex, SqueezeExciteImpl& m, const Value& x) {
  auto s = squeeze(ex, x, m.options.add_maxpool());
  auto a = ex.gate(m.options.gate_layer(), ex.conv(relu(ex, ex.conv(s, *m.fc1)), *m.fc2));
  ex.map(m, "channel", [&] { return ex.g.flatten(a); });
  return mul(ex, x, a);
}

Value ese(Exporter& ex, EffectiveSEImpl& m, const Value& x) {
  auto a = ex.gate(m.options.gate_layer(), ex.conv(squeeze(ex, x, m.options.add_maxpool()), *m.fc));
  ex.map(m, "channel", [&] { return ex.g.flatten(a); });
  return mul(ex, x, a);
}

Value eca(Exporter& ex, EcaImpl& m, const Value& x) {
  const int64_t c = x.dim(1);
  auto s = ex.g.reshape(mean(ex, x, {2, 3}), {0, 1, c});
  const int64_t pad = (m.kernel_size - 1) / 2;
  if (m.options.circular() && pad > 0)
    s = ex.g.concat({ex.g.slice(s, 2, c - pad, c), s, ex.g.slice(s, 2, 0, pad)}, 2);
  auto z = ex.conv1d(s, *m.conv);
  if (m.conv2) z = ex.conv1d(relu(ex, z), *m.conv2);
  auto a = ex.g.reshape(ex.gate(m.options.gate_layer(), z), {0, c, 1, 1});
  ex.map(m, "channel", [&] { return ex.g.flatten(a); });
  return mul(ex, x, a);
}

Value cbam(Exporter& ex, CbamImpl& m, const Value& x) {
  auto& ch = *m.channel;
  auto mlp = [&](const Value& v) { return ex.conv(relu(ex, ex.conv(v, *ch.fc1)), *ch.fc2); };
  auto avg = mean(ex, x, {2, 3}), mx = amax(ex, x, {2, 3});
  auto ac = sigmoid(ex, ch.light ? mlp(half_sum(ex, avg, mx)) : add(ex, mlp(avg), mlp(mx)));
  auto xc = mul(ex, x, ac);
  auto avg1 = mean(ex, xc, {1}), mx1 = amax(ex, xc, {1});
  auto in = m.spatial->light ? half_sum(ex, avg1, mx1) : ex.g.concat({avg1, mx1}, 1);
  auto as = sigmoid(ex, ex.emit(*m.spatial->conv, in));
  ex.map(m, "channel", [&] { return ex.g.flatten(ac); });
  ex.map(m, "spatial", [&] { return as; });
  return mul(ex, xc, as);
}

Value coord(Exporter& ex, CoordImpl& m, const Value& x) {
  const int64_t h = x.dim(2), w = x.dim(3);
  auto zh = mean(ex, x, {3});                             // N×C×H×1
  auto zw = ex.g.transpose(mean(ex, x, {2}), {0, 1, 3, 2});  // N×C×W×1
  auto f = ex.g.hard_swish(ex.conv(ex.g.concat({zh, zw}, 2), *m.conv1, m.bn1.get()));
  auto ah = sigmoid(ex, ex.conv(ex.g.slice(f, 2, 0, h), *m.conv_h));
  auto aw = sigmoid(ex, ex.conv(ex.g.transpose(ex.g.slice(f, 2, h, h + w), {0, 1, 3, 2}), *m.conv_w));
  ex.map(m, "spatial", [&] { return mean(ex, mul(ex, ah, aw), {1}); });
  auto y = mul(ex, mul(ex, x, aw), ah);
  return m.options.has_skip() ? add(ex, y, x) : y;
}

Value simam(Exporter& ex, SimAMImpl& m, const Value& x) {
  const float n = static_cast<float>(std::max<int64_t>(x.dim(2) * x.dim(3) - 1, 1));
  auto diff = ex.g.binary("Sub", x, mean(ex, x, {2, 3}));
  auto d = mul(ex, diff, diff);
  auto v = ex.g.binary("Div", ex.g.reduce("ReduceSum", d, {2, 3}, true), n);
  auto denom = ex.g.binary("Mul", ex.g.binary("Add", v, static_cast<float>(m.options.lambda())), 4.0f);
  auto a = sigmoid(ex, ex.g.binary("Add", ex.g.binary("Div", d, denom), 0.5f));
  ex.map(m, "spatial", [&] { return mean(ex, a, {1}); });
  return mul(ex, x, a);
}

Value bam(Exporter& ex, BamImpl& m, const Value& x) {
  auto& ch = *m.channel;
  auto mc = ex.conv(relu(ex, ex.conv(mean(ex, x, {2, 3}), *ch.fc1, ch.bn.get())), *ch.fc2);
  auto& sp = *m.spatial;
  auto s = ex.emit(*sp.conv2, ex.emit(*sp.conv1, ex.emit(*sp.reduce, x)));
  auto ms = ex.conv(s, *sp.proj, sp.bn.get());
  auto a = sigmoid(ex, add(ex, mc, ms));
  ex.map(m, "spatial", [&] { return mean(ex, a, {1}); });
  ex.map(m, "channel", [&] { return mean(ex, a, {2, 3}, false); });
  return add(ex, x, mul(ex, x, a));
}

Value gather_excite(Exporter& ex, GatherExciteImpl& m, const Value& x) {
  const auto& o = m.options;
  const int64_t h = x.dim(2), w = x.dim(3);
  Value g;
  if (m.gather) {
    g = ex.emit(*m.gather, x);
  } else if (o.extent() == 0) {
    g = squeeze(ex, x, o.add_maxpool());
  } else {
    const int64_t k = o.extent() * 2 - 1, s = o.extent(), p = k / 2;
    g = ex.g.avg_pool(x, {k, k}, {s, s}, {p, p, p, p}, false, false);
    if (o.add_maxpool()) g = half_sum(ex, g, ex.g.max_pool(x, {k, k}, {s, s}, {p, p, p, p}));
  }
  if (m.mlp) g = ex.emit(*m.mlp, g);
  const bool global = g.dim(2) == 1 && g.dim(3) == 1;
  if (!global) g = ex.g.resize(g, h, w, "nearest");
  auto a = ex.gate(o.gate_layer(), g);
  if (global) ex.map(m, "channel", [&] { return ex.g.flatten(a); });
  else ex.map(m, "spatial", [&] { return mean(ex, a, {1}); });
  return mul(ex, x, a);
}

Value global_context(Exporter& ex, GlobalContextImpl& m, const Value& x) {
  const int64_t c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Value ctx, alpha, gate;
  if (m.conv_attn) {
    alpha = ex.g.softmax(ex.g.reshape(ex.conv(x, *m.conv_attn), {0, 1, h * w}), -1);  // N×1×HW
    ctx = ex.g.matmul(ex.g.reshape(x, {0, c, h * w}), ex.g.transpose(alpha, {0, 2, 1}));
    ctx = ex.g.reshape(ctx, {0, c, 1, 1});
  } else {
    ctx = mean(ex, x, {2, 3});
  }
  Value y = x;
  if (m.mlp_scale) {
    gate = ex.gate(m.options.gate_layer(), ex.emit(*m.mlp_scale, ctx));
    y = mul(ex, y, gate);
  }
  if (m.mlp_add) y = add(ex, y, ex.emit(*m.mlp_add, ctx));
  if (m.conv_attn) ex.map(m, "spatial", [&] { return ex.g.reshape(alpha, {0, 1, h, w}); });
  if (m.mlp_scale) ex.map(m, "channel", [&] { return ex.g.flatten(gate); });
  return y;
}

Value triplet_gate(Exporter& ex, TripletGateImpl& m, const Value& z) {
  Scope s(ex, m);
  return sigmoid(ex, ex.emit(*m.conv, ex.g.concat({amax(ex, z, {1}), mean(ex, z, {1})}, 1)));
}

Value triplet(Exporter& ex, TripletImpl& m, const Value& x) {
  const int64_t h = x.dim(2), w = x.dim(3);
  const std::vector<int64_t> swap_ch = {0, 2, 1, 3}, swap_cw = {0, 3, 2, 1};
  auto s_cw = ex.g.transpose(triplet_gate(ex, *m.cw, ex.g.transpose(x, swap_ch)), swap_ch);  // N×C×1×W
  auto s_hc = ex.g.transpose(triplet_gate(ex, *m.hc, ex.g.transpose(x, swap_cw)), swap_cw);  // N×C×H×1
  Value s_hw;
  if (m.hw) s_hw = triplet_gate(ex, *m.hw, x);
  const float branches = m.hw ? 3.0f : 2.0f;
  auto y = add(ex, mul(ex, x, s_cw), mul(ex, x, s_hc));
  if (m.hw) y = add(ex, y, mul(ex, x, s_hw));
  y = ex.g.binary("Div", y, branches);
  Value m_cw, m_hc;
  ex.map(m, "cw", [&] { return m_cw = ex.g.expand(mean(ex, s_cw, {1}), {1, 1, h, w}); });
  ex.map(m, "hc", [&] { return m_hc = ex.g.expand(mean(ex, s_hc, {1}), {1, 1, h, w}); });
  if (m.hw) ex.map(m, "hw", [&] { return s_hw; });
  ex.map(m, "spatial", [&] {
    auto total = add(ex, m_cw, m_hc);
    if (m.hw) total = add(ex, total, s_hw);
    return ex.g.binary("Div", total, branches);
  });
  return y;
}

Value selective_kernel(Exporter& ex, SelectiveKernelImpl& m, const Value& x) {
  const int64_t p = static_cast<int64_t>(m.paths->size());
  const int64_t part = x.dim(1) / p;
  std::vector<Value> outs;
  for (int64_t i = 0; i < p; ++i) {
    auto in = m.options.split_input() ? ex.g.slice(x, 1, i * part, (i + 1) * part) : x;
    outs.push_back(ex.g.unsqueeze(ex.emit(*m.paths[static_cast<size_t>(i)], in), 1));
  }
  auto stacked = ex.g.concat(outs, 1);  // N×P×out×H'×W'
  auto& at = *m.attn;
  Value wts;
  {
    Scope s(ex, at);
    auto sum = mean(ex, ex.g.reduce("ReduceSum", stacked, {1}, false), {2, 3});
    auto z = ex.conv(relu(ex, ex.conv(sum, *at.fc_reduce, at.bn.get())), *at.fc_select);
    wts = ex.g.softmax(ex.g.reshape(z, {0, p, z.dim(1) / p, 1, 1}), 1);  // N×P×out×1×1
  }
  for (int64_t i = 0; i < p; ++i)
    ex.map(m, "path" + std::to_string(i), [&] { return ex.g.flatten(ex.g.slice(wts, 1, i, i + 1)); });
  return ex.g.reduce("ReduceSum", mul(ex, stacked, wts), {1}, false);
}

Value split_attn(Exporter& ex, SplitAttnImpl& m, const Value& x) {
  const int64_t radix = m.options.radix(), groups = m.options.groups(), c = m.out_channels;
  auto u = relu(ex, ex.conv(x, *m.conv, m.bn0 ? m.bn0.get() : nullptr));
  const int64_t h = u.dim(2), w = u.dim(3);
  auto splits = radix > 1 ? ex.g.reshape(u, {0, radix, c, h, w}) : ex.g.unsqueeze(u, 1);
  auto s = mean(ex, ex.g.reduce("ReduceSum", splits, {1}, false), {2, 3});
  auto z = ex.conv(s, *m.fc1, m.bn1 ? m.bn1.get() : nullptr);
  auto a = ex.conv(relu(ex, z), *m.fc2);
  Value wts;  // N×radix×c
  if (radix > 1) {
    auto soft = ex.g.softmax(ex.g.reshape(a, {0, groups, radix, -1}), 2);
    wts = ex.g.reshape(ex.g.transpose(soft, {0, 2, 1, 3}), {0, radix, c});
  } else {
    wts = sigmoid(ex, ex.g.reshape(a, {0, 1, c}));
  }
  if (radix > 1) {
    for (int64_t r = 0; r < radix; ++r)
      ex.map(m, "radix" + std::to_string(r), [&] { return ex.g.flatten(ex.g.slice(wts, 1, r, r + 1)); });
  } else {
    ex.map(m, "channel", [&] { return ex.g.flatten(wts); });
  }
  return ex.g.reduce("ReduceSum", mul(ex, splits, ex.g.reshape(wts, {0, radix, c, 1, 1})), {1}, false);
}

Value non_local(Exporter& ex, NonLocalImpl& m, const Value& x) {
  const int64_t h = x.dim(2), w = x.dim(3), hw = h * w;
  auto flat = [&](torch::nn::Conv2dImpl& c) {
    auto y = ex.conv(x, c);
    return ex.g.reshape(y, {0, y.dim(1), hw});  // N×rd×HW
  };
  auto th = ex.g.transpose(flat(*m.t), {0, 2, 1});
  auto ph = flat(*m.p);
  auto gv = ex.g.transpose(flat(*m.g), {0, 2, 1});
  auto att = ex.g.softmax(ex.g.binary("Mul", ex.g.matmul(th, ph), static_cast<float>(m.scale)), 2);
  auto y = ex.g.transpose(ex.g.matmul(att, gv), {0, 2, 1});
  y = ex.g.reshape(y, {0, y.dim(1), h, w});
  Value maps;
  ex.map(m, "spatial", [&] {
    const std::vector<int64_t> qs = {(h / 2) * w + w / 2, (h / 4) * w + w / 4, (h / 4) * w + (3 * w) / 4,
                                     ((3 * h) / 4) * w + w / 4, ((3 * h) / 4) * w + (3 * w) / 4};
    maps = ex.g.reshape(ex.g.gather(att, qs, 1), {0, 5, h, w});
    return ex.g.slice(maps, 1, 0, 1);
  });
  ex.map(m, "queries", [&] { return maps; });
  return add(ex, ex.conv(y, *m.z, m.norm.get()), x);
}

Value attnpool(Exporter& ex, AttnPoolImpl& m, const Value& x) {
  const int64_t c = x.dim(1), h = x.dim(2), w = x.dim(3), heads = m.options.num_heads();
  auto a = ex.g.softmax(ex.g.reshape(ex.conv(x, *m.score), {0, heads, h * w}), -1);  // N×heads×HW
  auto y = ex.g.matmul(a, ex.g.transpose(ex.g.reshape(x, {0, c, h * w}), {0, 2, 1}));  // N×heads×C
  Value maps;
  ex.map(m, "spatial", [&] {
    maps = ex.g.reshape(a, {0, heads, h, w});
    return mean(ex, maps, {1});
  });
  if (heads > 1) ex.map(m, "heads", [&] { return maps; });
  return ex.g.reshape(y, {0, heads * c});
}

}  // namespace

void register_attention_exporters() {
  add_exporter<ConvNormActImpl>(conv_norm_act);
  add_exporter<LayerNorm2dImpl>(layer_norm_2d);
  add_exporter<ConvMlpImpl>(conv_mlp);
  add_exporter<SGateImpl>(sgate);
  add_exporter<SqueezeExciteImpl>(se);
  add_exporter<EffectiveSEImpl>(ese);
  add_exporter<EcaImpl>(eca);
  add_exporter<CbamImpl>(cbam);
  add_exporter<CoordImpl>(coord);
  add_exporter<SimAMImpl>(simam);
  add_exporter<BamImpl>(bam);
  add_exporter<GatherExciteImpl>(gather_excite);
  add_exporter<GlobalContextImpl>(global_context);
  add_exporter<TripletImpl>(triplet);
  add_exporter<SelectiveKernelImpl>(selective_kernel);
  add_exporter<SplitAttnImpl>(split_attn);
  add_exporter<NonLocalImpl>(non_local);
  add_exporter<AttnPoolImpl>(attnpool);
}

const std::unordered_map<std::string, std::string>& unsupported_attention() {
  static const std::unordered_map<std::string, std::string> reasons;
  return reasons;
}

}  // namespace attncnn::onnx_export
