#include "graph.h"

#include <attncnn/error.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace attncnn::onnx_export {

namespace {
std::string shape_text(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << (s[i] == kBatch ? std::string("N") : std::to_string(s[i]));
  os << "]";
  return os.str();
}

void attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr(onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}
void attr(onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}
void attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (auto x : v) a->add_ints(x);
}

int64_t norm_axis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

// NumPy broadcasting of two static shapes; the batch marker broadcasts like any other size against 1.
std::vector<int64_t> broadcast(const std::vector<int64_t>& a, const std::vector<int64_t>& b, const std::string& op) {
  const size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t x = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t y = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (x == y || y == 1) out[i] = x;
    else if (x == 1) out[i] = y;
    else runtime_error("onnx export: " + op + " of shapes " + shape_text(a) + " and " + shape_text(b) +
                       " does not broadcast");
  }
  return out;
}
}  // namespace

int64_t Value::dim(int64_t i) const {
  const int64_t k = norm_axis(i, rank());
  if (k < 0 || k >= rank()) runtime_error("onnx export: " + name + ": no dimension " + std::to_string(i));
  return shape[static_cast<size_t>(k)];
}

int64_t window_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation,
                   bool ceil_mode) {
  const int64_t span = in + pad_begin + pad_end - dilation * (kernel - 1) - 1;
  if (span < 0) runtime_error("onnx export: a window of " + std::to_string(kernel) + " does not fit " +
                              std::to_string(in) + " positions");
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // As PyTorch: with ceil_mode the last window must start inside the input or its left padding.
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

Graph::Graph(onnx::GraphProto* graph, int64_t opset) : graph_(graph), opset_(opset) {}

std::string Graph::fresh(const std::string& op) {
  return (scope_.empty() ? std::string() : scope_ + "/") + op + "_" + std::to_string(counter_++);
}

Value Graph::add_input(const std::string& name, int32_t elem_type, const std::vector<int64_t>& shape) {
  auto* in = graph_->add_input();
  in->set_name(name);
  auto* t = in->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  for (auto d : shape) {
    auto* dim = t->mutable_shape()->add_dim();
    if (d == kBatch) dim->set_dim_param("batch");
    else dim->set_dim_value(d);
  }
  return {name, shape};
}

void Graph::add_output(const Value& v, const std::string& name) {
  std::string src = v.name;
  if (src != name) {
    auto* n = graph_->add_node();
    n->set_op_type("Identity");
    n->set_name(name + "/Identity");
    n->add_input(src);
    n->add_output(name);
  }
  auto* out = graph_->add_output();
  out->set_name(name);
  auto* t = out->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (auto d : v.shape) {
    auto* dim = t->mutable_shape()->add_dim();
    if (d == kBatch) dim->set_dim_param("batch");
    else dim->set_dim_value(d);
  }
}

std::string Graph::weight(const std::string& name, const torch::Tensor& t, const std::string& doc) {
  if (!initializers_.insert(name).second) return name;
  const auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  auto* init = graph_->add_initializer();
  init->set_name(name);
  init->set_data_type(onnx::TensorProto::FLOAT);
  for (auto d : c.sizes()) init->add_dims(d);
  init->set_raw_data(std::string(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.numel()) * 4));
  if (!doc.empty()) init->set_doc_string(doc);
  return name;
}

std::string Graph::ints(const std::vector<int64_t>& values) {
  const std::string name = "const/" + fresh("ints");
  auto* init = graph_->add_initializer();
  init->set_name(name);
  init->set_data_type(onnx::TensorProto::INT64);
  init->add_dims(static_cast<int64_t>(values.size()));
  for (auto v : values) init->add_int64_data(v);
  return name;
}

std::string Graph::scalar(float v) {
  const std::string name = "const/" + fresh("scalar");
  auto* init = graph_->add_initializer();
  init->set_name(name);
  init->set_data_type(onnx::TensorProto::FLOAT);
  init->add_float_data(v);
  return name;
}

Value Graph::node(const std::string& op, const std::vector<std::string>& inputs, const std::vector<int64_t>& shape,
                  onnx::NodeProto** out) {
  auto* n = graph_->add_node();
  const std::string name = fresh(op);
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(name);
  if (out) *out = n;
  return {name, shape};
}

Value Graph::conv(const Value& x, const std::string& w, const std::vector<int64_t>& w_shape, const std::string& b,
                  const std::vector<int64_t>& strides, const std::vector<int64_t>& pads,
                  const std::vector<int64_t>& dilations, int64_t groups) {
  const size_t sp = w_shape.size() - 2;
  if (x.shape.size() != sp + 2 || x.shape[1] != w_shape[1] * groups)
    runtime_error("onnx export: Conv of " + x.name + " " + shape_text(x.shape) + " with weight " + w + " " +
                  shape_text(w_shape) + " and " + std::to_string(groups) + " groups");
  std::vector<int64_t> shape = {x.shape[0], w_shape[0]};
  for (size_t i = 0; i < sp; ++i)
    shape.push_back(window_out(x.shape[2 + i], w_shape[2 + i], strides[i], pads[i], pads[sp + i], dilations[i], false));
  std::vector<std::string> inputs = {x.name, w};
  if (!b.empty()) inputs.push_back(b);
  onnx::NodeProto* n = nullptr;
  Value y = node("Conv", inputs, shape, &n);
  attr(n, "kernel_shape", std::vector<int64_t>(w_shape.begin() + 2, w_shape.end()));
  attr(n, "strides", strides);
  attr(n, "pads", pads);
  attr(n, "dilations", dilations);
  attr(n, "group", groups);
  return y;
}

Value Graph::batch_norm(const Value& x, const std::string& scale, const std::string& bias, const std::string& mean,
                        const std::string& var, double eps) {
  onnx::NodeProto* n = nullptr;
  Value y = node("BatchNormalization", {x.name, scale, bias, mean, var}, x.shape, &n);
  attr(n, "epsilon", static_cast<float>(eps));
  return y;
}

Value Graph::unary(const std::string& op, const Value& x) { return node(op, {x.name}, x.shape); }

Value Graph::binary(const std::string& op, const Value& a, const Value& b) {
  return node(op, {a.name, b.name}, broadcast(a.shape, b.shape, op));
}

Value Graph::binary(const std::string& op, const Value& a, float b) { return node(op, {a.name, scalar(b)}, a.shape); }

Value Graph::reduce(const std::string& op, const Value& x, const std::vector<int64_t>& axes, bool keepdims) {
  std::vector<int64_t> shape;
  std::vector<int64_t> norm;
  for (auto a : axes) norm.push_back(norm_axis(a, x.rank()));
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (std::find(norm.begin(), norm.end(), i) == norm.end()) shape.push_back(x.shape[static_cast<size_t>(i)]);
    else if (keepdims) shape.push_back(1);
  }
  onnx::NodeProto* n = nullptr;
  Value y;
  // ReduceSum takes its axes as an input from opset 13, the others from opset 18 (beyond the range we write).
  if (op == "ReduceSum") {
    y = node(op, {x.name, ints(norm)}, shape, &n);
  } else {
    y = node(op, {x.name}, shape, &n);
    attr(n, "axes", norm);
  }
  attr(n, "keepdims", int64_t{keepdims ? 1 : 0});
  return y;
}

Value Graph::concat(const std::vector<Value>& xs, int64_t axis) {
  const int64_t a = norm_axis(axis, xs.at(0).rank());
  std::vector<int64_t> shape = xs[0].shape;
  std::vector<std::string> names;
  shape[static_cast<size_t>(a)] = 0;
  for (const auto& x : xs) {
    names.push_back(x.name);
    shape[static_cast<size_t>(a)] += x.shape.at(static_cast<size_t>(a));
  }
  onnx::NodeProto* n = nullptr;
  Value y = node("Concat", names, shape, &n);
  attr(n, "axis", a);
  return y;
}

Value Graph::transpose(const Value& x, const std::vector<int64_t>& perm) {
  std::vector<int64_t> shape;
  for (auto p : perm) shape.push_back(x.shape.at(static_cast<size_t>(p)));
  onnx::NodeProto* n = nullptr;
  Value y = node("Transpose", {x.name}, shape, &n);
  attr(n, "perm", perm);
  return y;
}

Value Graph::reshape(const Value& x, const std::vector<int64_t>& target) {
  // The batch (dimension 0) is either copied with 0 or fixed; the product of the other dimensions is known.
  int64_t known = 1;
  for (size_t i = 1; i < x.shape.size(); ++i) known *= x.shape[i];
  std::vector<int64_t> shape(target.size());
  int64_t product = 1, infer = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (i == 0 && target[0] == 0) {
      shape[0] = x.shape[0];
    } else if (target[i] == -1) {
      infer = static_cast<int64_t>(i);
    } else if (target[i] == 0) {
      shape[i] = x.shape.at(i);
      product *= shape[i];
    } else {
      shape[i] = target[i];
      product *= target[i];
    }
  }
  if (target.empty() || target[0] != 0)
    runtime_error("onnx export: Reshape of " + x.name + " must keep the batch (0 first), got " + shape_text(target));
  if (infer >= 0) shape[static_cast<size_t>(infer)] = known / product;
  else if (product != known)
    runtime_error("onnx export: Reshape of " + x.name + " " + shape_text(x.shape) + " to " + shape_text(target));
  return node("Reshape", {x.name, ints(target)}, shape);
}

Value Graph::flatten(const Value& x) {
  int64_t p = 1;
  for (size_t i = 1; i < x.shape.size(); ++i) p *= x.shape[i];
  onnx::NodeProto* n = nullptr;
  Value y = node("Flatten", {x.name}, {x.shape[0], p}, &n);
  attr(n, "axis", int64_t{1});
  return y;
}

Value Graph::slice(const Value& x, int64_t axis, int64_t start, int64_t end, int64_t step) {
  const int64_t a = norm_axis(axis, x.rank());
  std::vector<int64_t> shape = x.shape;
  const int64_t len = x.shape[static_cast<size_t>(a)];
  end = std::min(end, len);
  shape[static_cast<size_t>(a)] = end > start ? (end - start + step - 1) / step : 0;
  return node("Slice", {x.name, ints({start}), ints({end}), ints({a}), ints({step})}, shape);
}

Value Graph::pad(const Value& x, const std::vector<int64_t>& pads) {
  std::vector<int64_t> shape = x.shape;
  const size_t r = shape.size();
  for (size_t i = 0; i < r; ++i)
    if (shape[i] != kBatch) shape[i] += pads[i] + pads[r + i];
  return node("Pad", {x.name, ints(pads)}, shape);
}

Value Graph::max_pool(const Value& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                      const std::vector<int64_t>& pads, bool ceil_mode) {
  std::vector<int64_t> shape = {x.shape[0], x.shape[1]};
  const size_t sp = kernel.size();
  for (size_t i = 0; i < sp; ++i)
    shape.push_back(window_out(x.shape[2 + i], kernel[i], strides[i], pads[i], pads[sp + i], 1, ceil_mode));
  onnx::NodeProto* n = nullptr;
  Value y = node("MaxPool", {x.name}, shape, &n);
  attr(n, "kernel_shape", kernel);
  attr(n, "strides", strides);
  attr(n, "pads", pads);
  attr(n, "ceil_mode", int64_t{ceil_mode ? 1 : 0});
  return y;
}

Value Graph::avg_pool(const Value& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                      const std::vector<int64_t>& pads, bool ceil_mode, bool count_include_pad) {
  std::vector<int64_t> shape = {x.shape[0], x.shape[1]};
  const size_t sp = kernel.size();
  for (size_t i = 0; i < sp; ++i)
    shape.push_back(window_out(x.shape[2 + i], kernel[i], strides[i], pads[i], pads[sp + i], 1, ceil_mode));
  onnx::NodeProto* n = nullptr;
  Value y = node("AveragePool", {x.name}, shape, &n);
  attr(n, "kernel_shape", kernel);
  attr(n, "strides", strides);
  attr(n, "pads", pads);
  attr(n, "ceil_mode", int64_t{ceil_mode ? 1 : 0});
  attr(n, "count_include_pad", int64_t{count_include_pad ? 1 : 0});
  return y;
}

Value Graph::softmax(const Value& x, int64_t axis) {
  onnx::NodeProto* n = nullptr;
  Value y = node("Softmax", {x.name}, x.shape, &n);
  attr(n, "axis", norm_axis(axis, x.rank()));
  return y;
}

Value Graph::matmul(const Value& a, const Value& b) {
  if (a.rank() < 2 || b.rank() < 2 || a.dim(-1) != b.dim(-2))
    runtime_error("onnx export: MatMul of " + shape_text(a.shape) + " and " + shape_text(b.shape));
  std::vector<int64_t> batch_a(a.shape.begin(), a.shape.end() - 2), batch_b(b.shape.begin(), b.shape.end() - 2);
  auto shape = broadcast(batch_a, batch_b, "MatMul");
  shape.push_back(a.dim(-2));
  shape.push_back(b.dim(-1));
  return node("MatMul", {a.name, b.name}, shape);
}

Value Graph::gemm(const Value& x, const std::string& w, const std::vector<int64_t>& w_shape, const std::string& b) {
  if (x.rank() != 2 || x.shape[1] != w_shape[1])
    runtime_error("onnx export: Gemm of " + shape_text(x.shape) + " with weight " + shape_text(w_shape));
  std::vector<std::string> inputs = {x.name, w};
  if (!b.empty()) inputs.push_back(b);
  onnx::NodeProto* n = nullptr;
  Value y = node("Gemm", inputs, {x.shape[0], w_shape[0]}, &n);
  attr(n, "transB", int64_t{1});
  return y;
}

Value Graph::resize(const Value& x, int64_t h, int64_t w, const std::string& mode) {
  // Sizes must name every dimension; the batch is only known at run time, so they are built from Shape(x).
  Value shape_of = node("Shape", {x.name}, {x.rank()});
  Value lead = node("Slice", {shape_of.name, ints({0}), ints({2}), ints({0})}, {2});
  onnx::NodeProto* n = nullptr;
  Value sizes = node("Concat", {lead.name, ints({h, w})}, {4}, &n);
  attr(n, "axis", int64_t{0});
  Value y = node("Resize", {x.name, "", "", sizes.name}, {x.shape[0], x.shape[1], h, w}, &n);
  if (mode == "nearest") {
    attr(n, "mode", std::string("nearest"));
    attr(n, "coordinate_transformation_mode", std::string("asymmetric"));
    attr(n, "nearest_mode", std::string("floor"));
  } else {
    attr(n, "mode", std::string("linear"));
    attr(n, "coordinate_transformation_mode", std::string("half_pixel"));
  }
  return y;
}

Value Graph::hard_sigmoid(const Value& x) {
  onnx::NodeProto* n = nullptr;
  Value y = node("HardSigmoid", {x.name}, x.shape, &n);
  attr(n, "alpha", 1.0f / 6.0f);
  attr(n, "beta", 0.5f);
  return y;
}

Value Graph::hard_swish(const Value& x) { return binary("Mul", x, hard_sigmoid(x)); }

Value Graph::clip(const Value& x, float lo, float hi) { return node("Clip", {x.name, scalar(lo), scalar(hi)}, x.shape); }

Value Graph::gelu(const Value& x) {
  Value e = unary("Erf", binary("Div", x, static_cast<float>(std::sqrt(2.0))));
  return binary("Mul", binary("Mul", x, 0.5f), binary("Add", e, 1.0f));
}

Value Graph::expand(const Value& x, const std::vector<int64_t>& shape) {
  return node("Expand", {x.name, ints(shape)}, broadcast(x.shape, shape, "Expand"));
}

Value Graph::unsqueeze(const Value& x, int64_t axis) {
  std::vector<int64_t> shape = x.shape;
  const int64_t a = axis < 0 ? axis + x.rank() + 1 : axis;
  shape.insert(shape.begin() + a, 1);
  return node("Unsqueeze", {x.name, ints({a})}, shape);
}

Value Graph::gather(const Value& x, const std::vector<int64_t>& indices, int64_t axis) {
  const int64_t a = norm_axis(axis, x.rank());
  std::vector<int64_t> shape = x.shape;
  shape[static_cast<size_t>(a)] = static_cast<int64_t>(indices.size());
  onnx::NodeProto* n = nullptr;
  Value y = node("Gather", {x.name, ints(indices)}, shape, &n);
  attr(n, "axis", a);
  return y;
}

Value Graph::cast(const Value& x, int32_t elem_type) {
  onnx::NodeProto* n = nullptr;
  Value y = node("Cast", {x.name}, x.shape, &n);
  attr(n, "to", int64_t{elem_type});
  return y;
}

}  // namespace attncnn::onnx_export
