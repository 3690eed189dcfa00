// ONNX export of a digits model: its inference graph (opset 17) with the weights as initializers, written
// with our own protobuf writer (protobuf_writer.h). Input "input": float [N, 1, 28, 28], N dynamic, each
// value = pixel (0..255) * the model's input scale; output "probabilities": float [N, 10], the softmax.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model.h"
#include "model_file.h"

namespace digits {

inline constexpr int64_t kOnnxOpset = 17;
inline constexpr int64_t kOnnxIrVersion = 8;  // the IR version released with opset 17 (ONNX 1.12)
inline constexpr const char* kOnnxInput = "input";           // float [N, 1, 28, 28]
inline constexpr const char* kOnnxOutput = "probabilities";  // float [N, 10]

// What an export needs: the network, its tensors by name, and the scale its inputs were trained with.
struct OnnxSource {
  NetSpec spec;
  std::vector<NamedTensor> tensors;                // Model::export_params(): every tensor the spec binds
  float input_scale = kDefaultInputScale;          // x = pixel * scale
  std::map<std::string, std::string> metadata;     // copied into the model's metadata_props
};

/*! requires: src.spec's tensors (NetLayout::plan) are all in src.tensors with their shapes.
    ensures: the bytes of an ONNX ModelProto (IR 8, opset 17, producer "digits"): one node per layer kind
      (conv -> Conv, relu -> Relu, maxpool -> MaxPool, flatten -> Flatten, gap -> GlobalAveragePool +
      Flatten, dense -> Gemm (transB), dropout -> Identity, batchnorm -> BatchNormalization with the
      running statistics), a Flatten before a dense on an unflattened input and an Unsqueeze to
      (N, C, 1, 1) before a conv, maxpool or gap on a flat one, then Softmax over the classes. metadata_props
      hold src.metadata plus "input_scale" and "spec"; the graph's doc_string states input and output.
      Throws digits::Error for a missing tensor or a layer kind with no ONNX form. `ops`, when given,
      receives each node's op_type in graph order. !*/
std::string onnx_model_bytes(const OnnxSource& src, std::vector<std::string>* ops = nullptr);

struct OnnxExport {
  std::vector<std::string> ops;  // op_type of each node, in graph order
  size_t bytes = 0;              // file size
};

/*! ensures: loads model_path with load_model (all its checks; errors name the file) and writes its ONNX form
      to out_path with write_file_atomic ("<out_path>: cannot save: ..." on failure, a previous file intact). !*/
OnnxExport export_onnx(const std::string& model_path, const std::string& out_path);

}  // namespace digits
