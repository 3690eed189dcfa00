// A digits network as an ONNX graph: one small builder walks the spec's layers and appends nodes and
// initializers; the message layouts are those of onnx.proto (field numbers below).
#include "onnx_export.h"

#include <cstdio>
#include <sstream>

#include "atomic_file.h"
#include "backend.h"
#include "error.h"
#include "protobuf_writer.h"

namespace digits {

namespace {

// ---- onnx.proto field numbers and enum values ---------------------------------------------------------
// clang-format off
namespace f {
constexpr int kModelIrVersion = 1, kModelProducerName = 2, kModelProducerVersion = 3, kModelDocString = 6,
              kModelGraph = 7, kModelOpsetImport = 8, kModelMetadataProps = 14;
constexpr int kOpsetDomain = 1, kOpsetVersion = 2;
constexpr int kGraphNode = 1, kGraphName = 2, kGraphInitializer = 5, kGraphDocString = 10, kGraphInput = 11,
              kGraphOutput = 12;
constexpr int kNodeInput = 1, kNodeOutput = 2, kNodeName = 3, kNodeOpType = 4, kNodeAttribute = 5;
constexpr int kAttrName = 1, kAttrF = 2, kAttrI = 3, kAttrInts = 8, kAttrType = 20;
constexpr int kTensorDims = 1, kTensorDataType = 2, kTensorName = 8, kTensorRawData = 9;
constexpr int kValueInfoName = 1, kValueInfoType = 2;
constexpr int kTypeTensorType = 1, kTypeTensorElemType = 1, kTypeTensorShape = 2, kShapeDim = 1;
constexpr int kDimValue = 1, kDimParam = 2;
constexpr int kEntryKey = 1, kEntryValue = 2;
}  // namespace f
constexpr int kAttrTypeFloat = 1, kAttrTypeInt = 2, kAttrTypeInts = 7;  // AttributeProto.AttributeType
constexpr int kDataFloat = 1, kDataInt64 = 7;                             // TensorProto.DataType
// clang-format on

constexpr int64_t kBatchDim = -1;  // in value_info shapes: the dynamic batch dimension "N"

pb::Message attr_int(const char* name, int64_t v) {
  pb::Message a;
  return a.add_bytes(f::kAttrName, name).add_int(f::kAttrType, kAttrTypeInt).add_int(f::kAttrI, v);
}

pb::Message attr_float(const char* name, float v) {
  pb::Message a;
  return a.add_bytes(f::kAttrName, name).add_int(f::kAttrType, kAttrTypeFloat).add_float(f::kAttrF, v);
}

pb::Message attr_ints(const char* name, const std::vector<int64_t>& v) {
  pb::Message a;
  a.add_bytes(f::kAttrName, name).add_int(f::kAttrType, kAttrTypeInts);
  for (int64_t x : v) a.add_int(f::kAttrInts, x);  // proto2 `repeated int64`: one field per value
  return a;
}

// A TensorProto with its values as raw little-endian bytes (the host is little-endian: model_file.cpp).
template <class T>
pb::Message tensor_proto(const std::string& name, const std::vector<int64_t>& dims, int data_type,
                         const std::vector<T>& values) {
  pb::Message t;
  for (int64_t d : dims) t.add_int(f::kTensorDims, d);
  t.add_int(f::kTensorDataType, data_type).add_bytes(f::kTensorName, name);
  return t.add_bytes(f::kTensorRawData, std::string_view(reinterpret_cast<const char*>(values.data()),
                                                          values.size() * sizeof(T)));
}

// A float tensor's ValueInfoProto; kBatchDim in `dims` is the symbolic dimension "N".
pb::Message value_info(const std::string& name, const std::vector<int64_t>& dims) {
  pb::Message shape;
  for (int64_t d : dims) {
    pb::Message dim;
    if (d == kBatchDim) dim.add_bytes(f::kDimParam, "N");
    else dim.add_int(f::kDimValue, d);
    shape.add_message(f::kShapeDim, dim);
  }
  pb::Message tensor, type, info;
  tensor.add_int(f::kTypeTensorElemType, kDataFloat).add_message(f::kTypeTensorShape, shape);
  type.add_message(f::kTypeTensorType, tensor);
  return info.add_bytes(f::kValueInfoName, name).add_message(f::kValueInfoType, type);
}

pb::Message entry(const std::string& key, const std::string& value) {
  pb::Message e;
  return e.add_bytes(f::kEntryKey, key).add_bytes(f::kEntryValue, value);
}

std::string float_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", double(v));  // 9 significant digits: reads back as the same float
  return buf;
}

// ---- the graph, layer by layer -----------------------------------------------------------------------
class GraphBuilder {
 public:
  explicit GraphBuilder(const OnnxSource& src) : src_(src) {}

  void layer(size_t i, const LayerSpec& l);
  // The Softmax that ends the graph, then the graph's inputs and outputs.
  pb::Message finish(const std::string& doc);
  const std::vector<std::string>& ops() const { return ops_; }

 private:
  // Appends a node reading inputs (cur_ first) and writing "<layer>/<op>"; it becomes cur_.
  void node(const std::string& op, std::vector<std::string> extra_inputs = {},
            const std::vector<pb::Message>& attrs = {}, const std::string& output = {});
  // The initializer "<layer>.<tensor>" from src_.tensors; returns its name.
  std::string weight(const std::string& tensor);
  void to_4d();  // (N, C) -> (N, C, 1, 1)
  void to_2d();  // (N, C, 1, 1) -> (N, C)

  const OnnxSource& src_;
  pb::Message graph_;
  std::vector<std::string> ops_;
  std::string cur_ = kOnnxInput;
  int rank_ = 4;
  size_t layer_ = 0;
  bool have_axes_ = false;
};

void GraphBuilder::node(const std::string& op, std::vector<std::string> extra_inputs,
                        const std::vector<pb::Message>& attrs, const std::string& output) {
  const std::string out = output.empty() ? std::to_string(layer_) + "/" + op : output;
  pb::Message n;
  n.add_bytes(f::kNodeInput, cur_);
  for (const std::string& in : extra_inputs) n.add_bytes(f::kNodeInput, in);
  n.add_bytes(f::kNodeOutput, out).add_bytes(f::kNodeName, out).add_bytes(f::kNodeOpType, op);
  for (const pb::Message& a : attrs) n.add_message(f::kNodeAttribute, a);
  graph_.add_message(f::kGraphNode, n);
  ops_.push_back(op);
  cur_ = out;
}

std::string GraphBuilder::weight(const std::string& tensor) {
  const std::string name = std::to_string(layer_) + "." + tensor;
  for (const NamedTensor& t : src_.tensors) {
    if (t.name != name) continue;
    graph_.add_message(f::kGraphInitializer, tensor_proto(name, t.shape, kDataFloat, t.data));
    return name;
  }
  DIGITS_FAIL("ONNX export: tensor '" << name << "' of layer " << src_.spec.layers[layer_].text() << " is missing");
}

void GraphBuilder::to_4d() {
  if (rank_ == 4) return;
  if (!have_axes_) {  // Unsqueeze takes its axes as an input since opset 13
    graph_.add_message(f::kGraphInitializer, tensor_proto("unsqueeze_axes", {2}, kDataInt64, std::vector<int64_t>{2, 3}));
    have_axes_ = true;
  }
  node("Unsqueeze", {"unsqueeze_axes"});
  rank_ = 4;
}

void GraphBuilder::to_2d() {
  if (rank_ == 2) return;
  node("Flatten", {}, {attr_int("axis", 1)});
  rank_ = 2;
}

void GraphBuilder::layer(size_t i, const LayerSpec& l) {
  layer_ = i;
  const std::string& k = l.kind;
  if (k == "conv") {
    const int64_t r = l.kernel, pad = l.same ? (l.kernel - 1) / 2 : 0;  // as Conv2d in layers.cpp
    to_4d();
    node("Conv", {weight("weight"), weight("bias")},
         {attr_ints("kernel_shape", {r, r}), attr_ints("pads", {pad, pad, pad, pad}), attr_ints("strides", {1, 1})});
  } else if (k == "maxpool") {
    to_4d();
    node("MaxPool", {}, {attr_ints("kernel_shape", {l.kernel, l.kernel}), attr_ints("strides", {l.kernel, l.kernel})});
  } else if (k == "gap") {
    to_4d();
    node("GlobalAveragePool");
    to_2d();  // digits' gap gives (N, C)
  } else if (k == "dense") {
    to_2d();
    node("Gemm", {weight("weight"), weight("bias")}, {attr_int("transB", 1)});  // x W^T + b, W (out, in)
  } else if (k == "batchnorm") {
    node("BatchNormalization", {weight("weight"), weight("bias"), weight("running_mean"), weight("running_var")},
         {attr_float("epsilon", kBatchNormEps)});  // inference form: the running statistics
  } else if (k == "relu") {
    node("Relu");
  } else if (k == "flatten") {
    node("Flatten", {}, {attr_int("axis", 1)});  // (N, C, H, W) -> (N, C*H*W); (N, C) stays (N, C)
    rank_ = 2;
  } else if (k == "dropout") {
    node("Identity");  // inference
  } else {
    DIGITS_FAIL("ONNX export: layer kind '" << k << "' has no ONNX form: add it to GraphBuilder::layer in onnx_export.cpp");
  }
}

pb::Message GraphBuilder::finish(const std::string& doc) {
  DIGITS_CHECK(rank_ == 2, "ONNX export: the network must end with dense(10)");
  node("Softmax", {}, {attr_int("axis", 1)}, kOnnxOutput);
  graph_.add_bytes(f::kGraphName, "digits").add_bytes(f::kGraphDocString, doc);
  graph_.add_message(f::kGraphInput, value_info(kOnnxInput, {kBatchDim, 1, 28, 28}));
  graph_.add_message(f::kGraphOutput, value_info(kOnnxOutput, {kBatchDim, 10}));
  return graph_;
}

std::string graph_doc(const OnnxSource& src) {
  std::ostringstream os;
  os << "digits network '" << src.spec.text() << "'. Input '" << kOnnxInput
     << "': float32 [N, 1, 28, 28], N dynamic, MNIST-style images (white digit on black, 20x20 box centred by "
        "mass), each value = pixel (0..255) * input_scale = "
     << float_text(src.input_scale) << " (metadata input_scale; 1/255 = 0.00392156886 maps pixels to [0, 1]). Output '"
     << kOnnxOutput << "': float32 [N, 10], the softmax of the logits: P(digit = k) for k = 0..9.";
  return os.str();
}

}  // namespace

std::string onnx_model_bytes(const OnnxSource& src, std::vector<std::string>* ops) {
  GraphBuilder g(src);
  for (size_t i = 0; i < src.spec.layers.size(); ++i) g.layer(i, src.spec.layers[i]);
  const std::string doc = graph_doc(src);
  const pb::Message graph = g.finish(doc);
  if (ops) *ops = g.ops();
  pb::Message opset, model;
  opset.add_bytes(f::kOpsetDomain, "").add_int(f::kOpsetVersion, kOnnxOpset);
  model.add_int(f::kModelIrVersion, kOnnxIrVersion)
      .add_bytes(f::kModelProducerName, "digits")
      .add_bytes(f::kModelProducerVersion, DIGITS_VERSION)
      .add_bytes(f::kModelDocString, doc)
      .add_message(f::kModelGraph, graph)
      .add_message(f::kModelOpsetImport, opset);
  std::map<std::string, std::string> meta = src.metadata;
  meta["input_scale"] = float_text(src.input_scale);
  meta["spec"] = src.spec.text();
  for (const auto& [k, v] : meta) model.add_message(f::kModelMetadataProps, entry(k, v));
  return model.bytes();
}

OnnxExport export_onnx(const std::string& model_path, const std::string& out_path) {
  auto be = make_cpu_backend(1);
  ModelFile file;
  auto model = load_model(*be, model_path, 1, &file);
  OnnxSource src{model->spec(), model->export_params(), model->input_scale(), {}};
  for (const char* key : {meta::kPreset, meta::kTestAccuracy, meta::kDatasetCrc})
    if (auto it = file.metadata.find(key); it != file.metadata.end()) src.metadata[key] = it->second;
  OnnxExport e;
  const std::string bytes = onnx_model_bytes(src, &e.ops);
  write_bytes_atomic(out_path, bytes);
  return {std::move(e.ops), bytes.size()};
}

}  // namespace digits
