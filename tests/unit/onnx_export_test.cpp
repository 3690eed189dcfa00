// The protobuf writer (bytes checked against the wire format's known encodings) and the ONNX export: the
// graph of small models with every layer kind read back field by field, and `digits export`'s errors.
// ONNX Runtime's answers on real models are checked by tests/interop (label `interop`).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "error.h"
#include "model.h"
#include "model_file.h"
#include "onnx_export.h"
#include "protobuf_writer.h"
#include "testing/files.h"
#include "testing/protobuf_reader.h"
#include "testing/run_cli.h"

namespace digits {
namespace {

using testing::PbField;
using testing::pb_all;
using testing::pb_fields;
using testing::pb_one;

std::string hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    if (!s.empty()) s += ' ';
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

std::string varint_hex(uint64_t v) {
  std::string s;
  pb::append_varint(s, v);
  return hex(s);
}

// ---- the wire format -------------------------------------------------------------------------------
TEST(ProtobufWriter, VarintsMatchTheWireFormat) {
  EXPECT_EQ(varint_hex(0), "00");
  EXPECT_EQ(varint_hex(1), "01");
  EXPECT_EQ(varint_hex(127), "7f");
  EXPECT_EQ(varint_hex(128), "80 01");
  EXPECT_EQ(varint_hex(150), "96 01");  // the protobuf documentation's example
  EXPECT_EQ(varint_hex(300), "ac 02");
  EXPECT_EQ(varint_hex(16384), "80 80 01");
  EXPECT_EQ(varint_hex(uint64_t(1) << 32), "80 80 80 80 10");
  EXPECT_EQ(varint_hex(UINT64_MAX), "ff ff ff ff ff ff ff ff ff 01");
}

TEST(ProtobufWriter, FieldsMatchTheWireFormat) {
  pb::Message m;
  m.add_int(1, 150);
  EXPECT_EQ(hex(m.bytes()), "08 96 01");
  pb::Message s;
  s.add_bytes(2, "testing");
  EXPECT_EQ(hex(s.bytes()), "12 07 74 65 73 74 69 6e 67");
  pb::Message nested;
  nested.add_message(3, m);
  EXPECT_EQ(hex(nested.bytes()), "1a 03 08 96 01");
  pb::Message f;
  f.add_float(2, 1.0f).add_float(7, -2.5f);
  EXPECT_EQ(hex(f.bytes()), "15 00 00 80 3f 3d 00 00 20 c0");
  pb::Message neg;
  neg.add_int(1, -1);  // int64 -1: ten bytes
  EXPECT_EQ(hex(neg.bytes()), "08 ff ff ff ff ff ff ff ff ff 01");
  pb::Message big;
  big.add_int(16, 1).add_bytes(20, "");  // field 16 needs a two-byte key; an empty string is its length 0
  EXPECT_EQ(hex(big.bytes()), "80 01 01 a2 01 00");
}

TEST(ProtobufWriter, RefusesFieldNumbersOutsideTheRange) {
  pb::Message m;
  EXPECT_THROW(m.add_int(0, 1), Error);
  EXPECT_THROW(m.add_bytes(1 << 29, "x"), Error);
  EXPECT_TRUE(m.bytes().empty());
}

// ---- the exported graph ------------------------------------------------------------------------------
// A model of `spec` with random weights and batch-norm statistics that are not the identity.
OnnxSource source_of(const std::string& spec) {
  auto be = make_cpu_backend(1);
  Model m(*be, NetSpec::parse(spec), 1);
  m.init(7);
  OnnxSource src{m.spec(), m.export_params(), 0.5f, {{"preset", "test"}}};
  for (NamedTensor& t : src.tensors)
    if (t.name.find("running") != std::string::npos)
      for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = 0.25f + 0.5f * float(i);
  return src;
}

struct Node {
  std::vector<std::string> inputs;
  std::string output, op;
  std::vector<PbField> attrs;
};

std::vector<Node> nodes_of(const std::vector<PbField>& graph) {
  std::vector<Node> out;
  for (const PbField& n : pb_all(graph, 1)) {
    const auto f = pb_fields(n.bytes);
    Node node;
    for (const PbField& in : pb_all(f, 1)) node.inputs.push_back(in.bytes);
    node.output = pb_one(f, 2).bytes;
    node.op = pb_one(f, 4).bytes;
    node.attrs = pb_all(f, 5);
    out.push_back(node);
  }
  return out;
}

// The attribute `name` of a node: its fields (name 1, type 20, f 2, i 3, ints 8).
std::vector<PbField> attr(const Node& n, const std::string& name) {
  for (const PbField& a : n.attrs) {
    const auto f = pb_fields(a.bytes);
    if (pb_one(f, 1).bytes == name) return f;
  }
  ADD_FAILURE() << n.op << " has no attribute " << name;
  return {};
}

std::vector<int64_t> ints_of(const std::vector<PbField>& a) {
  std::vector<int64_t> v;
  for (const PbField& f : pb_all(a, 8)) v.push_back(int64_t(f.value));
  return v;
}

// A value_info's dims: a number, or -1 for the symbolic "N".
std::vector<int64_t> dims_of(const std::string& value_info, std::string* name) {
  const auto vi = pb_fields(value_info);
  *name = pb_one(vi, 1).bytes;
  const auto tensor = pb_fields(pb_one(pb_fields(pb_one(vi, 2).bytes), 1).bytes);
  EXPECT_EQ(pb_one(tensor, 1).value, 1u) << "elem_type FLOAT";
  std::vector<int64_t> dims;
  for (const PbField& d : pb_all(pb_fields(pb_one(tensor, 2).bytes), 1)) {
    const auto df = pb_fields(d.bytes);
    const auto param = pb_all(df, 2);
    dims.push_back(param.empty() ? int64_t(pb_one(df, 1).value) : (param[0].bytes == "N" ? -1 : -2));
  }
  return dims;
}

std::vector<std::string> ops_of(const std::vector<Node>& nodes) {
  std::vector<std::string> ops;
  for (const Node& n : nodes) ops.push_back(n.op);
  return ops;
}

TEST(OnnxExport, ModelHeaderOpsetAndMetadata) {
  const OnnxSource src = source_of("conv(2,3) relu maxpool(2) flatten dense(10)");
  const auto model = pb_fields(onnx_model_bytes(src));
  EXPECT_EQ(pb_one(model, 1).value, uint64_t(kOnnxIrVersion));
  EXPECT_EQ(pb_one(model, 2).bytes, "digits");
  const auto opset = pb_fields(pb_one(model, 8).bytes);
  EXPECT_EQ(pb_one(opset, 1).bytes, "");
  EXPECT_EQ(pb_one(opset, 2).value, 17u);
  std::map<std::string, std::string> meta;
  for (const PbField& e : pb_all(model, 14)) {
    const auto kv = pb_fields(e.bytes);
    meta[pb_one(kv, 1).bytes] = pb_one(kv, 2).bytes;
  }
  EXPECT_EQ(meta["input_scale"], "0.5");
  EXPECT_EQ(meta["spec"], "conv(2,3) relu maxpool(2) flatten dense(10)");
  EXPECT_EQ(meta["preset"], "test");
  const auto graph = pb_fields(pb_one(model, 7).bytes);
  const std::string doc = pb_one(graph, 10).bytes;
  EXPECT_NE(doc.find("pixel (0..255) * input_scale = 0.5"), std::string::npos) << doc;
  EXPECT_NE(doc.find("[N, 10], the softmax"), std::string::npos) << doc;
  std::string name;
  EXPECT_EQ(dims_of(pb_one(graph, 11).bytes, &name), (std::vector<int64_t>{-1, 1, 28, 28}));
  EXPECT_EQ(name, kOnnxInput);
  EXPECT_EQ(dims_of(pb_one(graph, 12).bytes, &name), (std::vector<int64_t>{-1, 10}));
  EXPECT_EQ(name, kOnnxOutput);
}

TEST(OnnxExport, EveryLayerKindBecomesItsNodesInOneChain) {
  const OnnxSource src =
      source_of("conv(4,3,same) batchnorm relu maxpool(2) dropout(0.25) conv(3,3) gap dense(6) batchnorm relu flatten dense(10)");
  std::vector<std::string> ops;
  const auto graph = pb_fields(pb_one(pb_fields(onnx_model_bytes(src, &ops)), 7).bytes);
  const auto nodes = nodes_of(graph);
  const std::vector<std::string> expected = {"Conv", "BatchNormalization", "Relu", "MaxPool", "Identity", "Conv",
                                             "GlobalAveragePool", "Flatten", "Gemm", "BatchNormalization", "Relu",
                                             "Flatten", "Gemm", "Softmax"};
  EXPECT_EQ(ops_of(nodes), expected);
  EXPECT_EQ(ops, expected);
  std::string prev = kOnnxInput;
  for (const Node& n : nodes) {
    ASSERT_FALSE(n.inputs.empty());
    EXPECT_EQ(n.inputs[0], prev) << n.op;  // one chain, input to output
    prev = n.output;
  }
  EXPECT_EQ(prev, kOnnxOutput);
  EXPECT_EQ(nodes[0].inputs, (std::vector<std::string>{"input", "0.weight", "0.bias"}));
  EXPECT_EQ(ints_of(attr(nodes[0], "pads")), (std::vector<int64_t>{1, 1, 1, 1}));  // same
  EXPECT_EQ(ints_of(attr(nodes[0], "kernel_shape")), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(ints_of(attr(nodes[5], "pads")), (std::vector<int64_t>{0, 0, 0, 0}));  // valid
  EXPECT_EQ(nodes[1].inputs, (std::vector<std::string>{"0/Conv", "1.weight", "1.bias", "1.running_mean", "1.running_var"}));
  EXPECT_FLOAT_EQ(pb_one(attr(nodes[1], "epsilon"), 2).as_float(), 1e-5f);
  EXPECT_EQ(ints_of(attr(nodes[3], "kernel_shape")), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(ints_of(attr(nodes[3], "strides")), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(pb_one(attr(nodes[8], "transB"), 3).value, 1u);
  EXPECT_EQ(nodes[8].inputs, (std::vector<std::string>{"6/Flatten", "7.weight", "7.bias"}));
  EXPECT_EQ(pb_one(attr(nodes[13], "axis"), 3).value, 1u);
}

TEST(OnnxExport, InitializersHoldTheTensorsBytesAndShapes) {
  const OnnxSource src = source_of("conv(3,5) batchnorm relu maxpool(2) flatten dense(10)");
  const auto graph = pb_fields(pb_one(pb_fields(onnx_model_bytes(src)), 7).bytes);
  const auto inits = pb_all(graph, 5);
  ASSERT_EQ(inits.size(), src.tensors.size());
  for (size_t i = 0; i < inits.size(); ++i) {
    const auto t = pb_fields(inits[i].bytes);
    const NamedTensor& want = src.tensors[i];
    EXPECT_EQ(pb_one(t, 8).bytes, want.name);
    EXPECT_EQ(pb_one(t, 2).value, 1u) << "FLOAT";
    std::vector<int64_t> dims;
    for (const PbField& d : pb_all(t, 1)) dims.push_back(int64_t(d.value));
    EXPECT_EQ(dims, want.shape) << want.name;
    const std::string raw = pb_one(t, 9).bytes;
    ASSERT_EQ(raw.size(), want.data.size() * 4) << want.name;
    EXPECT_EQ(std::memcmp(raw.data(), want.data.data(), raw.size()), 0) << want.name;
  }
}

TEST(OnnxExport, FlatInputsAreUnsqueezedForConvAndPool) {
  // conv(3,1) after flatten is a legal spec: (784, 1, 1) -> (3, 1, 1); ONNX's Conv needs (N, C, 1, 1).
  const OnnxSource src = source_of("flatten conv(3,1) maxpool(1) dense(10)");
  const auto graph = pb_fields(pb_one(pb_fields(onnx_model_bytes(src)), 7).bytes);
  const auto nodes = nodes_of(graph);
  EXPECT_EQ(ops_of(nodes), (std::vector<std::string>{"Flatten", "Unsqueeze", "Conv", "MaxPool", "Flatten", "Gemm",
                                                    "Softmax"}));
  EXPECT_EQ(nodes[1].inputs[1], "unsqueeze_axes");
  const auto inits = pb_all(graph, 5);
  const auto axes = pb_fields(inits[0].bytes);  // added before the conv's weights
  EXPECT_EQ(pb_one(axes, 8).bytes, "unsqueeze_axes");
  EXPECT_EQ(pb_one(axes, 2).value, 7u) << "INT64";
  const std::string raw = pb_one(axes, 9).bytes;
  int64_t v[2];
  ASSERT_EQ(raw.size(), sizeof v);
  std::memcpy(v, raw.data(), sizeof v);
  EXPECT_EQ(v[0], 2);
  EXPECT_EQ(v[1], 3);
}

TEST(OnnxExport, AMissingTensorIsNamed) {
  OnnxSource src = source_of("conv(2,3) relu maxpool(2) flatten dense(10)");
  src.tensors.pop_back();  // 4.bias
  try {
    onnx_model_bytes(src);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'4.bias'"), std::string::npos) << e.what();
  }
}

// ---- digits export -------------------------------------------------------------------------------------
std::string bundled(const std::string& name) { return std::string(DIGITS_TESTS_DIR) + "/../data/models/" + name; }

TEST(ExportCli, WritesTheOnnxFileAndListsItsNodes) {
  testing::TempDir tmp("digits_export");
  const std::string out = tmp.file("seed.onnx");
  const auto r = testing::run_digits("export --model " + bundled("seed.safetensors") + " --onnx " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + out), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Conv Relu MaxPool Conv Relu MaxPool Flatten Gemm Relu Identity Gemm Relu Identity Gemm Softmax"),
            std::string::npos)
      << r.output;
  const testing::Bytes bytes = testing::read_bytes(out);
  const auto model = pb_fields(std::string(bytes.begin(), bytes.end()));
  EXPECT_EQ(pb_one(model, 1).value, uint64_t(kOnnxIrVersion));
  EXPECT_EQ(testing::listing(tmp.path()), std::vector<std::string>{"seed.onnx"});  // no temporary left
}

TEST(ExportCli, UnreadableModelAndUnwritablePathFailWithTheName) {
  testing::TempDir tmp("digits_export");
  auto r = testing::run_digits("export --model " + tmp.file("missing.safetensors") + " --onnx " + tmp.file("x.onnx"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("missing.safetensors"), std::string::npos) << r.output;
  testing::write_bytes(tmp.file("junk.safetensors"), {1, 2, 3});
  r = testing::run_digits("export --model " + tmp.file("junk.safetensors") + " --onnx " + tmp.file("x.onnx"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("junk.safetensors"), std::string::npos) << r.output;
  r = testing::run_digits("export --model " + bundled("seed.safetensors") + " --onnx " + tmp.file("no/dir/x.onnx"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--onnx " + tmp.file("no/dir/x.onnx") + ": directory"), std::string::npos) << r.output;
  r = testing::run_digits("export --model " + bundled("seed.safetensors") + " --onnx " + tmp.path());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("is a directory"), std::string::npos) << r.output;
  EXPECT_EQ(testing::listing(tmp.path()), std::vector<std::string>{"junk.safetensors"});
  EXPECT_NE(testing::run_digits("export --model " + bundled("seed.safetensors")).status, 0);  // --onnx required
}

}  // namespace
}  // namespace digits
