// Stops a run whose loss became NaN/Inf or diverged (learning rate too high) instead of writing a useless
// model, naming the epoch, the step and the last good checkpoint to resume from.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace digits {

class DivergenceGuard {
 public:
  // last_good: the checkpoint a run resumed from, or "none".
  DivergenceGuard(float lr, std::string last_good) : lr_(lr), last_good_(std::move(last_good)) {}

  // A checkpoint of `epoch` was written to `path`: it becomes the one to name.
  void saved(const std::string& path, int epoch);
  // Throws when the summed training loss of `images` images is not finite or its mean is a diverged run's.
  void check_training(double loss_sum, int images, int epoch, int64_t step) const;
  // Throws when the test loss after `epoch` is: the last update can break the weights after the last
  // training loss was measured, and a checkpoint must not be called good then.
  void check_test(double test_loss, int epoch, int64_t step) const;

 private:
  float lr_;
  std::string last_good_;
};

}  // namespace digits
