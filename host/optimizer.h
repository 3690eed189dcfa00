// Optimizers over the model's flat parameter buffer: Adadelta (Keras constants), SGD with momentum, Adam.
// State lives in backend memory and is saved in checkpoints as "optim.<slot>" tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"
#include "model_file.h"
#include "train_config.h"

namespace digits {

// The learning rate of step `step` (0-based) of a run of cfg.epochs epochs of steps_per_epoch steps:
// cfg.lr for Schedule::Constant; for Cosine a linear warm-up from lr/10 over cfg.warmup epochs, then
// lr * (1 + cos(pi * progress)) / 2 down to 0 at the last step.
float scheduled_lr(const TrainConfig& cfg, int64_t step, int64_t steps_per_epoch);

class Optimizer {
 public:
  // n parameters; cfg: the optimizer kind and its settings (requires cfg.validate() to pass).
  Optimizer(Backend& be, const TrainConfig& cfg, size_t n);
  // w -= update(g) with learning rate `lr` (the schedule's value for this step); state advances one step.
  void step(float* w, const float* g, float lr);
  int64_t steps() const { return steps_; }
  OptimizerKind kind() const { return cfg_.optimizer; }

  std::vector<NamedTensor> export_state() const;  // slots plus "optim.steps" (one float per 2^24 steps)
  void import_state(const ModelFile& file, const std::string& path_for_errors);

 private:
  Backend& be_;
  TrainConfig cfg_;
  size_t n_;
  int64_t steps_ = 0;
  std::vector<std::string> slot_names_;
  std::vector<Buffer<float>> slots_;
};

}  // namespace digits
