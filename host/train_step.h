// One training step and the buffers it needs: gather (or augment) a batch from the data set resident on the
// backend, forward, softmax cross-entropy, loss/accuracy sums, backward, optimizer update. `digits train`,
// `digits bench` and the BM_TrainStep_* benchmarks all run this object: once shapes are fixed it is one fixed
// sequence of launches, the place where a GPU step can be captured as a CUDA graph.
#pragma once

#include <cstdint>

#include "backend.h"
#include "mnist_idx.h"
#include "model.h"
#include "optimizer.h"
#include "train_config.h"

namespace digits {

inline constexpr int kClasses = 10;  // digits

// splitmix64 of (a, b): the seed of a step from the run's seed, of an epoch's shuffle, of augmentation.
inline uint64_t mix64(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A data set (training, validation or test) copied once into backend memory as uint8.
struct ResidentData {
  ResidentData(Backend& be, const Dataset& d);
  int count, rows, cols, pixels;
  Buffer<uint8_t> images, labels;  // (count, rows, cols), (count)
};

// `count` images of random pixels and labels: for timing, where the pixel values do not matter.
Dataset random_dataset(int count, uint32_t seed);

// Sums over the images of the steps since reset_stats(), read back from the backend.
struct StepStats {
  double loss_sum = 0, correct = 0;
};

class TrainStep {
 public:
  // requires: cfg.validate() passes; max_batch <= model.max_batch(). `be` and `model` outlive the step.
  TrainStep(Backend& be, Model& model, const TrainConfig& cfg, int max_batch);

  // Step `step` (0-based over the whole run) on images index[0..n) of `data` at learning rate `lr`:
  // updates the weights and the optimizer state and adds the batch's loss and correct count to the sums.
  // index: (n) on the backend; 1 <= n <= max_batch.
  void run(const ResidentData& data, const int32_t* index, int n, int64_t step, float lr);

  // Clean images (never augmented) of index[0..n) as the network reads them: x (n, pixels) =
  // pixel * model.input_scale(). Returns x, valid until the next call.
  const float* gather(const ResidentData& data, const int32_t* index, int n);

  void reset_stats();
  StepStats read_stats();  // waits for the step in flight; copies two numbers

  Optimizer& optimizer() { return optimizer_; }
  int max_batch() const { return max_batch_; }

 private:
  void check_batch(const ResidentData& data, int n) const;

  Backend& be_;
  Model& model_;
  TrainConfig cfg_;
  int max_batch_;
  Optimizer optimizer_;
  Buffer<int32_t> y_;                              // (B) labels
  Buffer<float> x_, probs_, loss_, dlogits_;       // (B, pixels), (B, 10), (B), (B, 10)
  Buffer<double> stats_;                           // loss sum, correct count
};

}  // namespace digits
