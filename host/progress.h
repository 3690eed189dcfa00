// What a training run tells its user: the opening line, a progress bar redrawn in place on a terminal, one
// plain line per epoch, the recalibration line, and each epoch's report as JSON (`digits train --json`).
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#include "train_config.h"

namespace digits {

struct EpochReport {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
  double val_loss = -1, val_accuracy = -1;  // -1: no validation set (TrainConfig::val == 0)
  double seconds = 0, images_per_s = 0;
};
nlohmann::json epoch_json(const EpochReport& r);

// "1:05", "1:02:03"
std::string format_duration(double seconds);

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  // bar: redraw one line (a terminal); else plain lines only. `epochs`: of the whole run.
  Progress(std::ostream& log, bool bar, int epochs);

  std::ostream& log() { return log_; }
  void started(const std::string& preset, size_t params, const std::string& backend, const TrainConfig& cfg);
  void resuming(const std::string& path, int epoch, int64_t step);

  void begin_epoch(int epoch);
  double epoch_seconds() const;  // since begin_epoch()
  // True when the bar is on and was last drawn long enough ago (a quarter second).
  bool bar_due() const;
  // The bar after `done` of `steps` steps of this epoch: images/s, mean loss so far, ETA of the epoch.
  void draw_bar(int done, int steps, int images, double loss_sum);
  void end_epoch(const EpochReport& r);
  // Accuracies before -> after batch-norm recalibration on `images` clean images (val < 0: no validation set).
  void recalibrated(int images, double val_before, double val_after, double test_before, double test_after);

 private:
  std::ostream& log_;
  bool bar_;
  int epochs_, epoch_ = 0;
  Clock::time_point epoch_start_, last_draw_;
};

}  // namespace digits
