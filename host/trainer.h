// The training loop (epochs over the resident data set, per-epoch test accuracy, checkpoints, resume)
// and evaluation. Logs which backend ran; shows a progress bar on a terminal and plain lines otherwise.
#pragma once

#include <array>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "backend.h"
#include "mnist_idx.h"
#include "model.h"
#include "progress.h"
#include "train_config.h"
#include "train_step.h"

namespace digits {

struct EvalResult {
  int count = 0, correct = 0;
  double loss = 0;  // mean cross-entropy
  std::array<std::array<int, 10>, 10> confusion{};  // [true][predicted]
  std::vector<uint8_t> predicted;                     // per image
  std::vector<float> probs;                           // (count, 10) softmax outputs per image
  double accuracy() const { return count ? double(correct) / count : 0.0; }
};
// The model's predictions of every image of `data` (x = pixel * model.input_scale()); host_labels: the
// same set on the host, for the confusion matrix.
EvalResult evaluate(Model& model, const ResidentData& data, const Dataset& host_labels);

struct TrainOptions {
  std::string preset;  // recorded in the model file
  NetSpec spec;
  TrainConfig cfg;         // cfg.max_steps_per_epoch > 0 shortens epochs (tests, smoke runs)
  std::string out;         // final model (no optimizer state); empty = do not write
  std::string checkpoint;  // written atomically after every epoch (with optimizer state); empty = none
  // Checkpoint to continue from: its spec and config win, except cfg.epochs and cfg.max_steps_per_epoch
  // where they are > 0.
  std::string resume;
  bool progress_bar = false;    // redraw one line (terminal); else one plain line per epoch
  std::ostream* log = nullptr;  // where progress goes (stderr by default)
  std::function<void(const EpochReport&)> on_epoch;  // called after each epoch's checkpoint is written
};

struct TrainResult {
  std::vector<EpochReport> epochs;
  double test_accuracy = 0;   // of the written model
  double val_accuracy = -1;   // of the written model after recalibration (-1: no validation set or no recalibration)
  bool recalibrated = false;  // batch-norm statistics re-estimated on clean images after augmented training
  int64_t steps = 0;
  std::string spec;  // the run's network and recipe (the checkpoint's when resuming)
  TrainConfig cfg;
};

// Trains on `be`. Throws digits::Error on bad options, an unwritable output, or a NaN/Inf loss (naming the
// step and the last good checkpoint).
TrainResult train(Backend& be, const Mnist& data, const TrainOptions& opt);

// A random permutation of [0, n) for `epoch`, identical on every platform (own Fisher-Yates on mt19937_64).
std::vector<int32_t> epoch_permutation(int n, uint64_t seed, int epoch);

}  // namespace digits
