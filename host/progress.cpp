// Progress output of `digits train`: the formats tests and scripts read, in one place.
#include "progress.h"

#include <iomanip>
#include <ostream>
#include <sstream>

namespace digits {

namespace {
double seconds_since(Progress::Clock::time_point t) {
  return std::chrono::duration<double>(Progress::Clock::now() - t).count();
}
}  // namespace

nlohmann::json epoch_json(const EpochReport& e) {
  return {{"epoch", e.epoch},           {"train_loss", e.train_loss},     {"train_accuracy", e.train_accuracy},
          {"test_loss", e.test_loss},   {"test_accuracy", e.test_accuracy}, {"seconds", e.seconds},
          {"images_per_s", e.images_per_s}, {"val_loss", e.val_loss},     {"val_accuracy", e.val_accuracy}};
}

std::string format_duration(double s) {
  const long t = long(s + 0.5);
  std::ostringstream os;
  if (t >= 3600) os << t / 3600 << ":" << std::setw(2) << std::setfill('0') << (t / 60) % 60 << ":";
  else os << (t / 60) << ":";
  os << std::setw(2) << std::setfill('0') << t % 60;
  return os.str();
}

Progress::Progress(std::ostream& log, bool bar, int epochs) : log_(log), bar_(bar), epochs_(epochs) {}

void Progress::started(const std::string& preset, size_t params, const std::string& backend, const TrainConfig& cfg) {
  const std::string schedule = to_string(cfg.schedule);
  log_ << "training " << (preset.empty() ? "custom" : preset) << " (" << params << " parameters) on " << backend << ": "
       << cfg.epochs << " epochs, batch " << cfg.batch << ", " << to_string(cfg.optimizer) << " lr " << cfg.lr
       << (cfg.schedule == Schedule::Constant ? "" : " (" + schedule + ")") << ", seed " << cfg.seed
       << (cfg.augment ? ", augmented" : "")
       << (cfg.val > 0 ? ", " + std::to_string(cfg.val) + " images held out for validation" : "") << "\n";
}

void Progress::resuming(const std::string& path, int epoch, int64_t step) {
  log_ << "resuming " << path << " after epoch " << epoch << " (step " << step << ")\n";
}

void Progress::begin_epoch(int epoch) {
  epoch_ = epoch;
  epoch_start_ = last_draw_ = Clock::now();
}

double Progress::epoch_seconds() const { return seconds_since(epoch_start_); }

bool Progress::bar_due() const { return bar_ && seconds_since(last_draw_) > 0.25; }

void Progress::draw_bar(int done, int steps, int images, double loss_sum) {
  last_draw_ = Clock::now();
  const double el = seconds_since(epoch_start_), frac = double(done) / steps;
  const int width = 24, filled = int(frac * width);
  log_ << "\repoch " << epoch_ << "/" << epochs_ << " [" << std::string(size_t(filled), '#')
       << std::string(size_t(width - filled), '-') << "] " << std::setw(3) << int(frac * 100) << "%  " << std::fixed
       << std::setprecision(0) << images / el << " img/s  loss " << std::setprecision(4) << loss_sum / images << "  ETA "
       << format_duration(el / frac - el) << "   " << std::flush;
  log_.unsetf(std::ios::fixed);
}

void Progress::end_epoch(const EpochReport& r) {
  if (bar_) log_ << "\r" << std::string(96, ' ') << "\r";
  log_ << "epoch " << r.epoch << "/" << epochs_ << "  loss " << std::fixed << std::setprecision(4) << r.train_loss
       << "  train " << std::setprecision(2) << 100 * r.train_accuracy << "%  ";
  if (r.val_accuracy >= 0) log_ << "val " << 100 * r.val_accuracy << "%  ";
  log_ << "test " << 100 * r.test_accuracy << "%  " << std::setprecision(1) << r.seconds << " s  " << std::setprecision(0)
       << r.images_per_s << " img/s\n"
       << std::flush;
  log_.unsetf(std::ios::fixed);
}

void Progress::recalibrated(int images, double val_before, double val_after, double test_before, double test_after) {
  log_ << "batch-norm statistics re-estimated on " << images << " un-augmented training images:";
  if (val_after >= 0)
    log_ << " val " << std::fixed << std::setprecision(2) << 100 * val_before << "% -> " << 100 * val_after << "%,";
  log_ << " test " << std::fixed << std::setprecision(2) << 100 * test_before << "% -> " << 100 * test_after << "%\n";
  log_.unsetf(std::ios::fixed);
}

}  // namespace digits
