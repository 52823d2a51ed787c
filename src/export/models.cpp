// ONNX exporters of the backbones and their blocks, one function per module type, each following its forward().
#include <attncnn/models/cifar_resnet.h>
#include <attncnn/models/fastnet.h>
#include <attncnn/models/mobilenet_v2.h>
#include <attncnn/models/preact_resnet.h>
#include <attncnn/models/residual_attention.h>
#include <attncnn/models/resnet.h>
#include <attncnn/models/seed_net.h>

#include <torch/torch.h>

#include "exporter.h"

namespace attncnn::onnx_export {

namespace nn = torch::nn;

namespace {

Value relu(Exporter& ex, const Value& x) { return ex.g.unary("Relu", x); }
Value add(Exporter& ex, const Value& a, const Value& b) { return ex.g.binary("Add", a, b); }

// Global average pooling, or the attnpool head: N×C×H×W → N×features.
Value pool(Exporter& ex, const Attention& head, const Value& x) {
  return head ? ex.emit(*head, x) : ex.g.reduce("ReduceMean", x, {2, 3}, false);
}

Value seed_net(Exporter& ex, SeedNetImpl& m, const Value& x) {
  auto y = relu(ex, ex.conv(x, *m.conv1, m.bn1.get()));
  y = relu(ex, ex.conv(y, *m.conv2, m.bn2.get()));
  if (m.attn) y = ex.emit(*m.attn, y);
  y = relu(ex, ex.conv(y, *m.conv3, m.bn3.get()));
  return ex.linear(pool(ex, m.pool, y), *m.fc);
}

// He et al.'s option A shortcut: every stride-th pixel, the new channels zero-padded half before and half after.
Value pad_shortcut(Exporter& ex, const Value& x, int64_t stride, int64_t planes) {
  Value s = x;
  if (stride > 1) s = ex.g.slice(ex.g.slice(s, 2, 0, s.dim(2), stride), 3, 0, s.dim(3), stride);
  const int64_t before = (planes - x.dim(1)) / 2, after = planes - x.dim(1) - before;
  return ex.g.pad(s, {0, before, 0, 0, 0, after, 0, 0});
}

Value basic_block(Exporter& ex, BasicBlockImpl& m, const Value& x) {
  auto y = relu(ex, ex.conv(x, *m.conv1, m.bn1.get()));
  y = ex.conv(y, *m.conv2, m.bn2.get());
  if (m.se) y = ex.emit(*m.se, y);
  Value sc = x;
  const int64_t stride = m.conv1->options.stride()->at(0), planes = m.conv1->options.out_channels();
  if (m.downsample) sc = ex.emit(*m.downsample, x);
  else if (stride != 1 || x.dim(1) != planes) sc = pad_shortcut(ex, x, stride, planes);
  return relu(ex, add(ex, y, sc));
}

Value bottleneck(Exporter& ex, BottleneckImpl& m, const Value& x) {
  auto y = relu(ex, ex.conv(x, *m.conv1, m.bn1.get()));
  y = relu(ex, ex.conv(y, *m.conv2, m.bn2.get()));
  y = ex.conv(y, *m.conv3, m.bn3.get());
  if (m.se) y = ex.emit(*m.se, y);
  return relu(ex, add(ex, y, m.downsample ? ex.emit(*m.downsample, x) : x));
}

Value resnet(Exporter& ex, ResNetImpl& m, const Value& x) {
  Value y;
  if (m.conv1_deep) {
    // The deep stem's last conv is followed by bn1: fold it like the pairs inside the stem.
    auto mods = m.conv1_deep->children();
    mods.push_back(m.bn1.ptr());
    y = ex.sequence(mods, x);
  } else {
    y = ex.conv(x, *m.conv1, m.bn1.get());
  }
  y = relu(ex, y);
  if (m.has_maxpool()) y = ex.g.max_pool(y, {3, 3}, {2, 2}, {1, 1, 1, 1});
  for (auto* layer : {&m.layer1, &m.layer2, &m.layer3, &m.layer4}) y = ex.emit(**layer, y);
  return ex.linear(pool(ex, m.global_pool, y), *m.fc);
}

Value cifar_resnet(Exporter& ex, CifarResNetImpl& m, const Value& x) {
  auto y = relu(ex, ex.conv(x, *m.conv1, m.bn1.get()));
  for (auto* layer : {&m.layer1, &m.layer2, &m.layer3}) y = ex.emit(**layer, y);
  return ex.linear(pool(ex, m.global_pool, y), *m.fc);
}

Value fastnet_block(Exporter& ex, FastNetBlockImpl& m, const Value& x) {
  // conv → max-pool → BN: a BN whose scale is positive in every channel commutes with the max-pool, so it folds into
  // the conv (fastnet's BN scale is frozen at 1).
  Value y;
  if (ex.fold_bn() && (ex.bn_scale(*m.bn1) > 0).all().item<bool>()) {
    y = ex.g.max_pool(ex.conv(x, *m.conv1, m.bn1.get()), {2, 2}, {2, 2}, {0, 0, 0, 0});
  } else {
    y = ex.batch_norm(ex.g.max_pool(ex.conv(x, *m.conv1), {2, 2}, {2, 2}, {0, 0, 0, 0}), *m.bn1);
  }
  y = ex.g.gelu(y);
  y = ex.g.gelu(ex.conv(y, *m.conv2, m.bn2.get()));
  return m.attn ? ex.emit(*m.attn, y) : y;
}

Value fastnet(Exporter& ex, FastNetImpl& m, const Value& x) {
  auto y = ex.g.gelu(ex.conv(x, *m.whiten));
  for (auto* block : {&m.block1, &m.block2, &m.block3}) y = ex.emit(**block, y);
  auto v = m.pool ? ex.emit(*m.pool, y) : ex.g.reduce("ReduceMax", y, {2, 3}, false);
  return ex.g.binary("Mul", ex.linear(v, *m.fc), static_cast<float>(m.logit_scale()));
}

Value preact_block(Exporter& ex, PreActBlockImpl& m, const Value& x) {
  auto pre = relu(ex, ex.batch_norm(x, *m.bn1));
  auto y = relu(ex, ex.conv(pre, *m.conv1, m.bn2.get()));
  y = ex.conv(y, *m.conv2);
  if (m.attn) y = ex.emit(*m.attn, y);
  return add(ex, y, m.shortcut ? ex.conv(pre, *m.shortcut) : x);
}

Value preact_resnet(Exporter& ex, PreActResNetImpl& m, const Value& x) {
  auto y = ex.conv(x, *m.conv1);
  for (auto& layer : m.layers) y = ex.emit(*layer, y);
  y = relu(ex, ex.batch_norm(y, *m.bn));
  return ex.linear(pool(ex, m.global_pool, y), *m.fc);
}

Value inverted_residual(Exporter& ex, InvertedResidualImpl& m, const Value& x) {
  auto y = m.expand ? ex.emit(*m.expand, x) : x;
  y = ex.emit(*m.depthwise, y);
  if (m.attn) y = ex.emit(*m.attn, y);
  y = ex.conv(y, *m.project, m.project_bn.get());
  return m.has_residual() ? add(ex, x, y) : y;
}

Value mobilenet_v2(Exporter& ex, MobileNetV2Impl& m, const Value& x) {
  auto y = ex.emit(*m.features, x);
  return ex.emit(*m.classifier, pool(ex, m.global_pool, y));
}

Value residual_unit(Exporter& ex, ResidualUnitImpl& m, const Value& x) {
  auto pre = relu(ex, ex.batch_norm(x, *m.bn1));
  auto y = relu(ex, ex.conv(pre, *m.conv1, m.bn2.get()));
  y = relu(ex, ex.conv(y, *m.conv2, m.bn3.get()));
  y = ex.conv(y, *m.conv3);
  if (m.attn) y = ex.emit(*m.attn, y);
  return add(ex, y, m.shortcut ? ex.conv(pre, *m.shortcut) : x);
}

Value max_pool_3x3(Exporter& ex, const Value& x) { return ex.g.max_pool(x, {3, 3}, {2, 2}, {1, 1, 1, 1}); }

// The hourglass mask M of SoftMaskBranch::mask, in (0, 1).
Value soft_mask(Exporter& ex, SoftMaskBranchImpl& m, const Value& x) {
  Scope s(ex, m);
  const size_t levels = m.down.size();
  std::vector<Value> h(levels), skip(levels);
  Value y = x;
  for (size_t i = 0; i < levels; ++i) {
    y = ex.emit(*m.down[i], max_pool_3x3(ex, y));
    h[i] = y;
    if (i + 1 < levels) skip[i] = ex.emit(*m.skip[i], y);
  }
  for (size_t i = levels - 1; i >= 1; --i) {
    auto up = ex.g.resize(y, h[i - 1].dim(2), h[i - 1].dim(3), "linear");
    y = ex.emit(*m.up[i - 1], add(ex, up, skip[i - 1]));
  }
  auto mask = ex.g.unary("Sigmoid", ex.emit(*m.head, ex.g.resize(y, x.dim(2), x.dim(3), "linear")));
  ex.map(m, "spatial", [&] { return ex.g.reduce("ReduceMean", mask, {1}, true); });
  ex.map(m, "channel", [&] { return ex.g.reduce("ReduceMean", mask, {2, 3}, false); });
  return mask;
}

Value soft_mask_branch(Exporter& ex, SoftMaskBranchImpl& m, const Value& x) {
  return ex.g.binary("Mul", ex.g.binary("Add", soft_mask(ex, m, x), 1.0f), x);
}

Value attention_module(Exporter& ex, AttentionModuleImpl& m, const Value& x) {
  auto y = ex.emit(*m.first, x);
  auto t = ex.emit(*m.trunk, y);
  if (m.mask) t = ex.g.binary("Mul", ex.g.binary("Add", soft_mask(ex, *m.mask, y), 1.0f), t);
  return ex.emit(*m.last, t);
}

Value residual_attention(Exporter& ex, ResidualAttentionNetImpl& m, const Value& x) {
  auto y = relu(ex, ex.conv(x, *m.conv1, m.bn1.get()));
  if (m.has_maxpool()) y = max_pool_3x3(ex, y);
  for (auto* stage : {&m.stage1, &m.stage2, &m.stage3, &m.stage4}) y = ex.emit(**stage, y);
  y = relu(ex, ex.batch_norm(y, *m.bn));
  return ex.linear(pool(ex, m.global_pool, y), *m.fc);
}

}  // namespace

void register_model_exporters() {
  add_exporter<SeedNetImpl>(seed_net);
  add_exporter<BasicBlockImpl>(basic_block);
  add_exporter<BottleneckImpl>(bottleneck);
  add_exporter<ResNetImpl>(resnet);
  add_exporter<CifarResNetImpl>(cifar_resnet);
  add_exporter<FastNetBlockImpl>(fastnet_block);
  add_exporter<FastNetImpl>(fastnet);
  add_exporter<PreActBlockImpl>(preact_block);
  add_exporter<PreActResNetImpl>(preact_resnet);
  add_exporter<InvertedResidualImpl>(inverted_residual);
  add_exporter<MobileNetV2Impl>(mobilenet_v2);
  add_exporter<ResidualUnitImpl>(residual_unit);
  add_exporter<SoftMaskBranchImpl>(soft_mask_branch);
  add_exporter<AttentionModuleImpl>(attention_module);
  add_exporter<ResidualAttentionNetImpl>(residual_attention);
}

}  // namespace attncnn::onnx_export
