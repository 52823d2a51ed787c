#pragma once
// The ONNX graph builder under the exporter: one method per operator the modules need, each appending a node to a
// GraphProto and returning its output with the output's static shape, so that an exporter can size a Reshape or a
// Resize without running the network.
//
// Shapes: dimension 0 is the batch. kBatch (-1) stands for the dynamic batch; every other dimension is known.
// Reshape targets keep the batch with 0 (ONNX "copy this dimension"), so the graph stays valid for any batch.
// Initializers hold float32 weights under the names the exporter gives them (the state_dict keys); constants the
// builder needs itself (axes, shapes, scalars) get names of their own ("const/…").
// Errors are attncnn::Error (runtime): a shape that does not fit an operator is a bug in an exporter, not input.
#include <onnx/onnx_pb.h>
#include <torch/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace attncnn::onnx_export {

/// The batch dimension of a dynamic-batch graph.
constexpr int64_t kBatch = -1;

/// A tensor of the graph: its name and static shape (see above).
struct Value {
  std::string name;
  std::vector<int64_t> shape;
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  /// Dimension i; negative i counts from the end.
  int64_t dim(int64_t i) const;
};

class Graph {
 public:
  /// Appends to `graph` (owned by the caller's ModelProto).
  Graph(onnx::GraphProto* graph, int64_t opset);

  onnx::GraphProto& proto() { return *graph_; }
  int64_t opset() const { return opset_; }
  int64_t node_count() const { return graph_->node_size(); }

  /// Names nodes and their outputs "<scope>/<Op>_<n>" until the next set_scope.
  void set_scope(const std::string& scope) { scope_ = scope; }
  const std::string& scope() const { return scope_; }

  // ---- inputs, outputs, initializers ----
  Value add_input(const std::string& name, int32_t elem_type, const std::vector<int64_t>& shape);
  /// Declares `v` a graph output under `name` (an Identity node when the names differ).
  void add_output(const Value& v, const std::string& name);
  /// A float32 initializer `name` holding `t` (copied to the CPU as float); a second call with the same name
  /// returns the first one. `doc` is stored as its doc_string.
  std::string weight(const std::string& name, const torch::Tensor& t, const std::string& doc = "");
  std::string ints(const std::vector<int64_t>& values);  ///< an int64 constant of shape [n]
  std::string scalar(float v);                           ///< a float32 constant of shape [] (broadcasts)

  // ---- nodes ----
  /// A node with one output of `shape`; attributes are set through the returned node.
  Value node(const std::string& op, const std::vector<std::string>& inputs, const std::vector<int64_t>& shape,
             onnx::NodeProto** out = nullptr);

  /// Conv with `w`/`b` (b may be undefined): N×C×(spatial) → N×O×(spatial'). `pads` begin then end per axis.
  Value conv(const Value& x, const std::string& w, const std::vector<int64_t>& w_shape, const std::string& b,
             const std::vector<int64_t>& strides, const std::vector<int64_t>& pads,
             const std::vector<int64_t>& dilations, int64_t groups);
  Value batch_norm(const Value& x, const std::string& scale, const std::string& bias, const std::string& mean,
                   const std::string& var, double eps);
  Value unary(const std::string& op, const Value& x);                      ///< Relu, Sigmoid, Erf, Sqrt, …
  Value binary(const std::string& op, const Value& a, const Value& b);     ///< Add, Sub, Mul, Div (broadcast)
  Value binary(const std::string& op, const Value& a, float b);            ///< with a scalar constant
  Value reduce(const std::string& op, const Value& x, const std::vector<int64_t>& axes, bool keepdims);
  Value concat(const std::vector<Value>& xs, int64_t axis);
  Value transpose(const Value& x, const std::vector<int64_t>& perm);
  /// Reshape to `shape`: 0 copies the input's dimension (the batch), one -1 is inferred.
  Value reshape(const Value& x, const std::vector<int64_t>& shape);
  Value flatten(const Value& x);  ///< N×… → N×(product)
  Value slice(const Value& x, int64_t axis, int64_t start, int64_t end, int64_t step = 1);
  Value pad(const Value& x, const std::vector<int64_t>& pads);  ///< zero padding, begin then end per axis
  Value max_pool(const Value& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                 const std::vector<int64_t>& pads, bool ceil_mode = false);
  Value avg_pool(const Value& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                 const std::vector<int64_t>& pads, bool ceil_mode, bool count_include_pad);
  Value softmax(const Value& x, int64_t axis);
  Value matmul(const Value& a, const Value& b);
  /// Gemm x·wᵀ + b for an N×in input.
  Value gemm(const Value& x, const std::string& w, const std::vector<int64_t>& w_shape, const std::string& b);
  /// Resize of the last two dimensions to h×w: "nearest" as PyTorch's legacy nearest (asymmetric, floor) or
  /// "linear" as its bilinear with align_corners=false (half_pixel).
  Value resize(const Value& x, int64_t h, int64_t w, const std::string& mode);
  Value hard_sigmoid(const Value& x);  ///< relu6(x + 3) / 6, PyTorch's hardsigmoid
  Value hard_swish(const Value& x);    ///< x · hardsigmoid(x)
  Value clip(const Value& x, float lo, float hi);
  Value gelu(const Value& x);          ///< exact GELU, x · ½(1 + erf(x/√2))
  Value expand(const Value& x, const std::vector<int64_t>& shape);  ///< broadcast to shape (batch dim 1 there)
  Value unsqueeze(const Value& x, int64_t axis);
  Value gather(const Value& x, const std::vector<int64_t>& indices, int64_t axis);
  Value cast(const Value& x, int32_t elem_type);  ///< to an onnx::TensorProto data type

 private:
  std::string fresh(const std::string& op);

  onnx::GraphProto* graph_;
  int64_t opset_;
  std::string scope_;
  int64_t counter_ = 0;
  std::set<std::string> initializers_;
};

/// Output spatial size of a convolution or pooling window along one axis.
int64_t window_out(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation,
                   bool ceil_mode);

}  // namespace attncnn::onnx_export
