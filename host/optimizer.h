// Optimizers over the model's flat parameter buffer: Adadelta (Keras constants), SGD with momentum, Adam.
// State lives in backend memory and is saved in checkpoints as "optim.<slot>" tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"
#include "model.h"
#include "model_file.h"

namespace digits {

class Optimizer {
 public:
  Optimizer(Backend& be, const TrainConfig& cfg, size_t n);
  // w -= update(g); state advances one step.
  void step(float* w, const float* g);
  int64_t steps() const { return steps_; }
  const std::string& name() const { return name_; }

  std::vector<NamedTensor> export_state() const;  // slots plus "optim.steps" (one float per 2^24 steps)
  void import_state(const ModelFile& file, const std::string& path_for_errors);

 private:
  Backend& be_;
  std::string name_;
  TrainConfig cfg_;
  size_t n_;
  int64_t steps_ = 0;
  std::vector<std::string> slot_names_;
  std::vector<Buffer<float>> slots_;
};

}  // namespace digits
