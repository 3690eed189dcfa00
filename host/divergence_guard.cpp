// DivergenceGuard: the checks and the messages that tell the user to lower --lr and where to resume.
#include "divergence_guard.h"

#include <cmath>

#include "error.h"
#include "train_step.h"

namespace digits {

namespace {
const double kGuessingLoss = std::log(double(kClasses));  // ln(10) = 2.3: the loss of a uniform guess
// A mean loss this far above guessing is a diverged run (learning rate too high), not a slow one.
const double kDivergedLoss = 4 * kGuessingLoss;
}  // namespace

void DivergenceGuard::saved(const std::string& path, int epoch) {
  last_good_ = path + " (epoch " + std::to_string(epoch) + ")";
}

void DivergenceGuard::check_training(double loss_sum, int images, int epoch, int64_t step) const {
  if (!std::isfinite(loss_sum))
    DIGITS_FAIL("training stopped: the loss became " << loss_sum << " in epoch " << epoch << " by step " << step
                                                     << " (learning rate " << lr_ << " too high?); last good checkpoint: "
                                                     << last_good_);
  const double mean_loss = images > 0 ? loss_sum / images : 0.0;
  if (mean_loss > kDivergedLoss)
    DIGITS_FAIL("training stopped: the loss diverged to " << mean_loss << " (guessing gives " << kGuessingLoss
                                                         << ") in epoch " << epoch << " by step " << step
                                                         << ": learning rate " << lr_
                                                         << " is too high, try a smaller --lr; last good checkpoint: "
                                                         << last_good_);
}

void DivergenceGuard::check_test(double test_loss, int epoch, int64_t step) const {
  if (!std::isfinite(test_loss) || test_loss > kDivergedLoss)
    DIGITS_FAIL("training stopped: after epoch " << epoch << " (step " << step << ") the test loss is " << test_loss
                                                 << ": the weights diverged (learning rate " << lr_
                                                 << " too high? try a smaller --lr); last good checkpoint: " << last_good_);
}

}  // namespace digits
