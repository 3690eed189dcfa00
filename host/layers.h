// Layers: parameters, activation buffers and shape checks; the arithmetic is the Backend's.
// Each layer owns its output and input-gradient buffers for up to `max_batch` images.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"

namespace digits {

// Batch norm's epsilon (PyTorch's default): var + eps under the square root, in training and inference.
inline constexpr float kBatchNormEps = 1e-5f;

// Per-image activation shape (C, H, W); a flat vector is (C, 1, 1).
struct Dims {
  int c = 0, h = 0, w = 0;
  size_t size() const { return size_t(c) * h * w; }
  bool operator==(const Dims&) const = default;
};

// One entry of a network's text spec, e.g. "conv(32,5)", "maxpool(2)", "dropout(0.3)", "dense(128)".
// Each kind is one row of the table in layers.cpp (its name, arguments, text and class): adding a kind
// means that row and the layer class.
struct LayerSpec {
  std::string kind = "relu";  // the kind's name in the spec: a row of layers.cpp's table ("conv", "dense", ...)
  int units = 0;      // conv: output channels K; dense: outputs
  int kernel = 0;     // conv: R = S; maxpool: window
  bool same = false;  // conv padding "same" (else "valid")
  float rate = 0.f;   // dropout rate
  std::string text() const;
  // One spec token, e.g. "conv(32,5)"; throws digits::Error naming the token and, for an unknown name,
  // listing the kinds.
  static LayerSpec parse(const std::string& token);
};

struct ParamInfo {
  std::string name;            // "weight" or "bias"; state: "running_mean", "running_var"
  std::vector<int64_t> shape;  // PyTorch layout: conv OIHW, dense (out, in), batchnorm (C)
  size_t offset = 0;           // into the model's flat parameter buffer (state: its flat state buffer)
  size_t size() const;
};

// What forward and backward need to know about the step.
struct StepContext {
  bool train = false;
  uint64_t dropout_seed = 0;  // per step and layer; the same value must reach forward and backward
  // Re-estimating batch-norm statistics (no training): batch norm normalises with the batch's statistics
  // and moves its running ones by bn_momentum; dropout is the identity; there is no backward.
  bool recalibrate = false;
  float bn_momentum = 0.1f;  // batch norm's running-statistics momentum (training: PyTorch's 0.1)
};

class Layer {
 public:
  virtual ~Layer() = default;
  const LayerSpec& spec() const { return spec_; }
  Dims in_dims() const { return in_; }
  Dims out_dims() const { return out_; }
  const std::vector<ParamInfo>& params() const { return params_; }
  // Non-trainable tensors saved with the model (batch norm's running statistics); the optimizer never
  // sees them. Their initial values: running_var 1, everything else 0.
  const std::vector<ParamInfo>& state() const { return state_; }

  // Allocates activation buffers for up to max_batch images. `params`/`grads` point at this layer's slice
  // of the model's flat buffers (null when the layer has no parameters). need_dx: false for the first layer.
  virtual void setup(Backend& be, int max_batch, float* params, float* grads, bool need_dx) = 0;
  // x: (N, in_dims) in backend memory; returns (N, out_dims), valid until the next forward.
  virtual const float* forward(Backend& be, const float* x, int N, const StepContext& ctx) = 0;
  // dy: (N, out_dims); writes this layer's parameter gradients; returns dx (N, in_dims) or null if !need_dx.
  virtual const float* backward(Backend& be, const float* dy, int N, const StepContext& ctx) = 0;
  // This layer's slice of the model's flat state buffer (called once, before the first forward).
  virtual void bind_state(float* /*state*/) {}

 protected:
  LayerSpec spec_;
  Dims in_, out_;
  std::vector<ParamInfo> params_, state_;
};

// Builds a layer for `spec` fed with `in`; throws digits::Error for shapes that do not fit (e.g. a 5x5
// valid conv on a 3x3 input, dense on an unflattened input).
std::unique_ptr<Layer> make_layer(const LayerSpec& spec, Dims in);

}  // namespace digits
