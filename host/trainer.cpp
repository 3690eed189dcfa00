// The training loop: a short loop over parts with one job each (the configuration, the data split, the
// step, progress, the divergence guard, checkpoints, batch-norm recalibration). Batches are gathered on the
// backend from the resident uint8 data set, so a step copies nothing between host and device except the
// two-number loss/accuracy sum when progress is drawn or checked.
#include "trainer.h"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <numeric>
#include <optional>
#include <random>

#include "checkpoint.h"
#include "divergence_guard.h"
#include "error.h"
#include "optimizer.h"

namespace digits {

// ---- data and evaluation ----------------------------------------------------------------------------
std::vector<int32_t> epoch_permutation(int n, uint64_t seed, int epoch) {
  std::vector<int32_t> p(size_t(std::max(n, 0)));
  for (int i = 0; i < n; ++i) p[size_t(i)] = i;
  std::mt19937_64 rng(mix64(seed, uint64_t(epoch)));
  for (int i = n - 1; i > 0; --i) {
    // Lemire-free but exact: rejection sampling keeps the draw uniform and platform-independent.
    const uint64_t bound = uint64_t(i) + 1, limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = rng();
    while (r >= limit);
    std::swap(p[size_t(i)], p[size_t(r % bound)]);
  }
  return p;
}

namespace {
std::vector<int32_t> in_order(int n) {
  std::vector<int32_t> v(size_t(std::max(n, 0)));
  std::iota(v.begin(), v.end(), 0);
  return v;
}
}  // namespace

EvalResult evaluate(Model& model, const ResidentData& data, const Dataset& host) {
  Backend& be = model.backend();
  const int B = model.max_batch();
  EvalResult r;
  r.count = data.count;
  r.predicted.resize(size_t(data.count));
  r.probs.resize(size_t(data.count) * kClasses);
  Buffer<int32_t> index(be, size_t(data.count)), y(be, size_t(B));
  index.upload(in_order(data.count));
  Buffer<float> x(be, size_t(B) * data.pixels), probs(be, size_t(B) * kClasses), loss(be, size_t(B));
  std::vector<float> h_probs(size_t(B) * kClasses), h_loss(static_cast<size_t>(B));
  double loss_sum = 0;
  for (int start = 0; start < data.count; start += B) {
    const int n = std::min(B, data.count - start);
    be.gather_batch(n, data.pixels, data.images.data(), data.labels.data(), index.data() + start, model.input_scale(),
                    0.f, x.data(), y.data());
    const float* logits = model.forward(x.data(), n, false, 0);
    be.softmax_xent(n, kClasses, logits, y.data(), probs.data(), loss.data(), nullptr, 0.f);
    be.download(h_probs.data(), probs.data(), size_t(n) * kClasses * sizeof(float));
    be.download(h_loss.data(), loss.data(), size_t(n) * sizeof(float));
    for (int i = 0; i < n; ++i) {
      const float* p = &h_probs[size_t(i) * kClasses];
      std::copy(p, p + kClasses, r.probs.begin() + long(size_t(start + i) * kClasses));
      const int best = int(std::max_element(p, p + kClasses) - p);
      const int truth = host.labels[size_t(start + i)];
      r.predicted[size_t(start + i)] = uint8_t(best);
      r.confusion[size_t(truth)][size_t(best)]++;
      r.correct += best == truth;
      loss_sum += h_loss[size_t(i)];
    }
  }
  r.loss = loss_sum / std::max(1, data.count);
  return r;
}

// ---- the parts of a run -----------------------------------------------------------------------------
namespace {

constexpr int kCheckEvery = 50;  // steps between loss checks when no progress bar is drawn

// The configuration of a run: the options', or the checkpoint's when resuming (its spec, preset and config
// win, except epochs and max steps where the options give them), validated once; the outputs are checked
// writable before any work.
struct RunSetup {
  RunRecord record;
  NetSpec spec;
  std::optional<ResumePoint> resume;
};

RunSetup configure(Backend& be, const Mnist& data, const TrainOptions& opt) {
  RunSetup s{{opt.preset, opt.cfg, data.crc32, be.name()}, opt.spec, std::nullopt};
  if (!opt.resume.empty()) {
    s.resume = read_checkpoint(opt.resume, data.crc32);
    s.spec = s.resume->spec;
    s.record.preset = s.resume->preset;
    s.record.cfg = s.resume->cfg;
    if (opt.cfg.epochs > 0) s.record.cfg.epochs = opt.cfg.epochs;
    if (opt.cfg.max_steps_per_epoch > 0) s.record.cfg.max_steps_per_epoch = opt.cfg.max_steps_per_epoch;
  }
  s.record.cfg.validate();
  check_writable(opt.out, "--out");
  check_writable(opt.checkpoint, "checkpoint");
  return s;
}

// The weights a run starts from: the checkpoint's, with its optimizer state, or fresh ones. Returns where
// the run stands.
RunPosition start_weights(Model& model, TrainStep& step, const RunSetup& setup, const std::string& path,
                          Progress& progress) {
  if (!setup.resume) {
    model.init(setup.record.cfg.seed);
    return {};
  }
  model.import_params(setup.resume->file, path);
  step.optimizer().import_state(setup.resume->file, path);
  progress.resuming(path, setup.resume->at.epoch, setup.resume->at.step);
  return setup.resume->at;
}

// Validation: the last `val` training images are held out (never trained on) and evaluated each epoch, so
// choices can be made without looking at the test set.
Dataset held_out(const Dataset& train, int val) {
  DIGITS_CHECK(val < train.count,
               "--val " << val << " must leave training images (the training set has " << train.count << ")");
  Dataset v;
  v.count = val, v.rows = train.rows, v.cols = train.cols;
  const size_t first = size_t(train.count - val);
  v.images.assign(train.images.begin() + long(first * train.pixels()), train.images.end());
  v.labels.assign(train.labels.begin() + long(first), train.labels.end());
  return v;
}

// The data sets of a run on the backend.
class RunData {
 public:
  RunData(Backend& be, const Mnist& data, int val)
      : host_test_(data.test), host_val_(held_out(data.train, val)), train_(be, data.train), test_(be, data.test),
        val_(val > 0 ? std::make_unique<ResidentData>(be, host_val_) : nullptr), train_count_(data.train.count - val) {}

  const ResidentData& train() const { return train_; }  // all of it: the first train_count() are trained on
  int train_count() const { return train_count_; }
  bool has_val() const { return val_ != nullptr; }
  EvalResult test(Model& m) const { return evaluate(m, test_, host_test_); }
  EvalResult val(Model& m) const {  // requires has_val()
    DIGITS_CHECK(val_, "no validation set: train with --val N");
    return evaluate(m, *val_, host_val_);
  }

 private:
  const Dataset& host_test_;
  Dataset host_val_;
  ResidentData train_, test_;
  std::unique_ptr<ResidentData> val_;
  int train_count_;
};

// One epoch: the steps over a fresh permutation of the training images, then the evaluation.
class EpochRunner {
 public:
  EpochRunner(TrainStep& step, Model& model, const RunData& sets, const TrainConfig& cfg, Progress& progress,
              const DivergenceGuard& guard)
      : step_(step), model_(model), sets_(sets), cfg_(cfg), progress_(progress), guard_(guard),
        index_(model.backend(), size_t(sets.train_count())) {
    steps_per_epoch_ = (sets.train_count() + cfg.batch - 1) / cfg.batch;
    if (cfg.max_steps_per_epoch > 0) steps_per_epoch_ = std::min(steps_per_epoch_, cfg.max_steps_per_epoch);
  }

  // Runs epoch `epoch` from global step *step (advanced). Throws when the run diverged.
  EpochReport run(int epoch, int64_t* step);

 private:
  int train_steps(int epoch, int64_t* step);  // returns the images trained on

  TrainStep& step_;
  Model& model_;
  const RunData& sets_;
  const TrainConfig& cfg_;
  Progress& progress_;
  const DivergenceGuard& guard_;
  Buffer<int32_t> index_;
  int steps_per_epoch_ = 0;
};

int EpochRunner::train_steps(int epoch, int64_t* step) {
  const int n = sets_.train_count(), B = cfg_.batch;
  index_.upload(epoch_permutation(n, cfg_.seed, epoch));
  step_.reset_stats();
  int images = 0;
  for (int s = 0; s < steps_per_epoch_; ++s) {
    const int nb = std::min(B, n - s * B);
    step_.run(sets_.train(), index_.data() + size_t(s) * B, nb, *step, scheduled_lr(cfg_, *step, steps_per_epoch_));
    ++*step;
    images += nb;
    const bool draw = progress_.bar_due();
    if (draw || s % kCheckEvery == kCheckEvery - 1) {  // stop a NaN run early
      const StepStats st = step_.read_stats();
      guard_.check_training(st.loss_sum, images, epoch, *step);
      if (draw) progress_.draw_bar(s + 1, steps_per_epoch_, images, st.loss_sum);
    }
  }
  return images;
}

EpochReport EpochRunner::run(int epoch, int64_t* step) {
  progress_.begin_epoch(epoch);
  const int images = train_steps(epoch, step);
  const StepStats st = step_.read_stats();
  guard_.check_training(st.loss_sum, images, epoch, *step);
  EpochReport rep;
  rep.seconds = progress_.epoch_seconds();
  const EvalResult test = sets_.test(model_);
  const EvalResult val = sets_.has_val() ? sets_.val(model_) : EvalResult{};
  guard_.check_test(test.loss, epoch, *step);
  rep.epoch = epoch;
  rep.train_loss = st.loss_sum / images;
  rep.train_accuracy = st.correct / images;
  rep.test_loss = test.loss;
  rep.test_accuracy = test.accuracy();
  if (sets_.has_val()) rep.val_loss = val.loss, rep.val_accuracy = val.accuracy();
  rep.images_per_s = images / rep.seconds;
  return rep;
}

// Augmented batches gave batch norm its running statistics; the clean images the model will read have
// slightly different ones. Re-estimate them, as an average over one pass of the un-augmented training
// images (weights untouched), before the final model is written. Checkpoints keep the training ones, so
// --resume stays exact; resuming a finished run redoes this step and writes the same model.
void recalibrate(Model& model, TrainStep& step, const RunData& sets, int B, Progress& progress, TrainResult* result) {
  const double before_test = result->test_accuracy;
  const double before_val = sets.has_val() ? sets.val(model).accuracy() : -1;
  const int n = sets.train_count();
  Buffer<int32_t> index(model.backend(), size_t(n));
  index.upload(in_order(n));
  const int batches = std::max(1, n / B);  // full batches only (the partial one would weigh as much)
  for (int k = 0; k < batches; ++k) {
    const int nb = std::min(B, n - k * B);
    model.recalibrate_batchnorm(step.gather(sets.train(), index.data() + size_t(k) * B, nb), nb, 1.0f / float(k + 1));
  }
  result->test_accuracy = sets.test(model).accuracy();
  result->recalibrated = true;
  if (sets.has_val()) result->val_accuracy = sets.val(model).accuracy();
  progress.recalibrated(std::min(n, batches * B), before_val, result->val_accuracy, before_test, result->test_accuracy);
}

}  // namespace

// ---- training -------------------------------------------------------------------------------------
TrainResult train(Backend& be, const Mnist& data, const TrainOptions& opt) {
  const RunSetup setup = configure(be, data, opt);
  const TrainConfig& cfg = setup.record.cfg;
  Progress progress(opt.log ? *opt.log : std::cerr, opt.progress_bar, cfg.epochs);
  Model model(be, setup.spec, cfg.batch);
  TrainStep step(be, model, cfg, cfg.batch);
  RunPosition at = start_weights(model, step, setup, opt.resume, progress);
  const RunData sets(be, data, cfg.val);
  progress.started(setup.record.preset, model.param_count(), be.name(), cfg);

  DivergenceGuard guard(cfg.lr, opt.resume.empty() ? std::string("none") : opt.resume);
  EpochRunner epochs(step, model, sets, cfg, progress, guard);
  TrainResult result;
  result.spec = setup.spec.text();
  result.cfg = cfg;
  for (int epoch = at.epoch + 1; epoch <= cfg.epochs; ++epoch) {
    const EpochReport rep = epochs.run(epoch, &at.step);
    if (!opt.checkpoint.empty()) {
      save_training_file(opt.checkpoint, setup.record, {epoch, at.step, rep.test_accuracy}, model, &step.optimizer());
      guard.saved(opt.checkpoint, epoch);
    }
    progress.end_epoch(rep);
    result.epochs.push_back(rep);
    result.test_accuracy = rep.test_accuracy;
    if (opt.on_epoch) opt.on_epoch(rep);
  }
  if (result.epochs.empty()) result.test_accuracy = sets.test(model).accuracy();  // resumed a finished run
  if (cfg.augment && model.has_batchnorm()) recalibrate(model, step, sets, cfg.batch, progress, &result);
  result.steps = at.step;
  if (!opt.out.empty()) save_training_file(opt.out, setup.record, {cfg.epochs, at.step, result.test_accuracy}, model, nullptr);
  return result;
}

}  // namespace digits
