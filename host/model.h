// A network built from its short text spec (the presets are in train_config.h) and the model's flat parameter/gradient buffers.
// Spec grammar: layers separated by spaces, e.g.
//   "conv(32,5) relu maxpool(2) conv(64,3) relu maxpool(2) flatten dense(128) relu dropout(0.3) dense(10)"
// conv(K,R[,same]) | relu | maxpool(S) | flatten | dense(N) | dropout(rate) | batchnorm. Input is 1x28x28; the last
// layer's outputs are the logits (softmax cross-entropy is applied by the trainer / predictor).
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

class Model {
 public:
  // Builds the layers and allocates buffers for up to max_batch images on `be` (which must outlive it).
  Model(Backend& be, const NetSpec& spec, int max_batch);
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

  // Parameters as named host tensors ("0.weight", ...) and back; load checks names and shapes exactly.
  std::vector<NamedTensor> export_params() const;
  void import_params(const ModelFile& file, const std::string& path_for_errors);

 private:
  uint64_t layer_seed(uint64_t step_seed, size_t layer) const;

  Backend& be_;
  NetSpec spec_;
  int max_batch_;
  std::vector<std::unique_ptr<Layer>> layers_;
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

// Reads a model file and builds the model it describes (spec from metadata, weights checked against it).
std::unique_ptr<Model> load_model(Backend& be, const std::string& path, int max_batch, ModelFile* file_out = nullptr);

}  // namespace digits
