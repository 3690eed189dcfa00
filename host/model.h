// A network built from its short text spec (presets: train_config.h) and its flat parameter/gradient buffers.
// Spec grammar: layers separated by spaces, e.g.
//   "conv(32,5) relu maxpool(2) conv(64,3) relu maxpool(2) flatten dense(128) relu dropout(0.3) dense(10)"
// conv(K,R[,same]) | relu | maxpool(S) | flatten | dense(N) | dropout(rate) | batchnorm (the table in layers.cpp).
// Input is 1x28x28; the last layer's outputs are the logits (softmax cross-entropy: trainer / predictor).
// Tensor names follow PyTorch's nn.Sequential: "<layer index>.weight" / ".bias" (batchnorm also
// ".running_mean" / ".running_var", as BatchNorm2d/BatchNorm1d).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "layers.h"
#include "model_file.h"

namespace digits {

// x = pixel * scale for pixels 0..255, as the seed project (Keras) did. Every model file stores its own
// (metadata "input_scale"); this is the value new models are trained with.
inline constexpr float kDefaultInputScale = 1.0f / 255.0f;

struct NetSpec {
  Dims input{1, 28, 28};
  std::vector<LayerSpec> layers;
  static NetSpec parse(const std::string& text);  // throws digits::Error naming the bad token
  std::string text() const;
};

// One tensor of a network bound to its place: its name in model files, its shape, and its slice of the
// model's flat parameter buffer (trainable) or state buffer (batch norm's running statistics).
struct TensorBinding {
  std::string name;            // "<layer index>.<tensor>", e.g. "0.weight", "2.running_var"
  std::string tensor;          // the layer's own name for it: "weight", "bias", "running_mean", "running_var"
  std::vector<int64_t> shape;  // PyTorch layout: conv OIHW, dense (out, in), batchnorm (C)
  size_t layer = 0;            // index into the spec's layers
  bool trainable = true;       // in params() (the optimizer's); else in the state buffer
  size_t offset = 0, size = 0; // elements, into that buffer (sizes saturate at SIZE_MAX, never wrap)
};

// A network's layers (built for their shapes only: no buffers until setup) and its tensors, computed once
// from the spec without allocating anything the spec asks for, so that a model file can be checked against
// it first. Tensors are in file order: layer by layer, each layer's parameters, then its state.
struct NetLayout {
  std::vector<std::unique_ptr<Layer>> layers;  // in execution order (see plan)
  std::vector<TensorBinding> tensors;
  std::vector<size_t> param_base, state_base;  // per layer: where its slice of each flat buffer starts
  size_t param_count = 0, state_count = 0;     // saturating

  // Throws digits::Error for a layer that does not fit its input (make_layer's message). With `reorder`,
  // "relu maxpool(k)" runs as "maxpool(k) relu": the same results bit for bit, ReLU on k*k times fewer
  // values. Tensors keep the spec's layer indices either way (neither layer has any).
  static NetLayout plan(const NetSpec& spec, bool reorder = true);
  // Throws when the network needs more parameters or activations per image than we allow (checked layer by
  // layer, as the network grows); `prefix` starts the message (a model file's path and ": ").
  void check_limits(const NetSpec& spec, const std::string& prefix) const;

 private:
  void bind(size_t layer, const std::vector<ParamInfo>& infos, bool trainable);
};

class Model {
 public:
  // Builds the layers and allocates buffers for up to max_batch images on `be` (which must outlive it).
  Model(Backend& be, const NetSpec& spec, int max_batch);
  // The same from a layout already planned: requires layout made by NetLayout::plan(spec).
  Model(Backend& be, const NetSpec& spec, NetLayout layout, int max_batch);
  ~Model();

  const NetSpec& spec() const { return spec_; }
  int max_batch() const { return max_batch_; }
  int num_classes() const { return int(layers_.back()->out_dims().size()); }
  size_t param_count() const { return param_count_; }  // trainable (the optimizer's)
  size_t state_count() const { return state_count_; }  // non-trainable (batch norm running statistics)
  float* params() { return params_.data(); }
  float* grads() { return grads_.data(); }
  Backend& backend() { return be_; }
  // x = pixel (0..255) * input_scale(): kDefaultInputScale, or the model file's "input_scale".
  float input_scale() const { return input_scale_; }
  void set_input_scale(float s);

  // Keras initialisation: Glorot uniform weights, zero biases, from `seed` (host RNG, then upload).
  void init(uint64_t seed);
  // x: (N, 1, 28, 28) in backend memory, N <= max_batch. Returns the logits (N, classes).
  const float* forward(const float* x, int N, bool train, uint64_t step_seed);
  // Batch-norm statistics only: a forward pass over x that moves every batch norm's running statistics
  // by `momentum` towards this batch's (dropout off, weights untouched). Momentum 1/(k+1) for the k-th
  // batch (k from 0) makes them the average over all batches passed.
  void recalibrate_batchnorm(const float* x, int N, float momentum);
  bool has_batchnorm() const;
  // dlogits: (N, classes). Fills grads() (overwritten, not accumulated). step_seed as in forward.
  void backward(const float* dlogits, int N, uint64_t step_seed);

  // Every tensor with its name and place (NetLayout::tensors), in file order.
  const std::vector<TensorBinding>& tensors() const { return tensors_; }
  // Parameters as named host tensors ("0.weight", ...) and back; load checks names and shapes exactly.
  std::vector<NamedTensor> export_params() const;
  void import_params(const ModelFile& file, const std::string& path_for_errors);

 private:
  uint64_t layer_seed(uint64_t step_seed, size_t layer) const;

  Backend& be_;
  NetSpec spec_;
  int max_batch_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<TensorBinding> tensors_;
  void reset_state();  // running_var 1, the rest 0

  float input_scale_ = kDefaultInputScale;
  size_t param_count_ = 0, state_count_ = 0;
  Buffer<float> params_, grads_, state_;
};

// Metadata keys written into every model file.
namespace meta {
inline constexpr const char* kFormat = "format";  // "digits-model-1"
inline constexpr const char* kSpec = "spec";
inline constexpr const char* kPreset = "preset";
inline constexpr const char* kTrainConfig = "train_config";  // JSON
inline constexpr const char* kDatasetCrc = "dataset_crc32";
inline constexpr const char* kTestAccuracy = "test_accuracy";
inline constexpr const char* kInputScale = "input_scale";  // x = pixel * scale (pixels 0..255)
inline constexpr const char* kFormatValue = "digits-model-1";
}  // namespace meta

// Reads a model file and builds the model it describes (spec from metadata, weights checked against it, and
// input_scale() from the metadata "input_scale" when present, else kDefaultInputScale).
std::unique_ptr<Model> load_model(Backend& be, const std::string& path, int max_batch, ModelFile* file_out = nullptr);

}  // namespace digits
