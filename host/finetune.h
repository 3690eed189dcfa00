// Fine-tuning a trained model on a person's own samples (sample_store.h), so that their writing is read
// right: augmented samples mixed with MNIST replay in every batch (so MNIST accuracy holds), through the
// same TrainStep as `digits train`, on any backend. Made for a worker thread: a progress callback, a cancel
// flag, and a result written atomically only when the run completes (a cancelled or failed run leaves the
// previous file as it was).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "mnist_idx.h"
#include "train_config.h"

namespace digits {

struct FinetuneProgress {
  int step = 0, steps = 0;  // steps done, of the run
  double seconds = 0;       // of training so far
  double loss = 0;          // mean training loss of the steps since the last report
};

struct FinetuneOptions {
  int epochs = 25;        // passes over the personal training samples (each seen once per pass, augmented)
  double seconds = 0;     // > 0: stop training after this many seconds, even with epochs left
  double holdout = 0.2;   // of each digit's samples, held back (never trained on) to measure on
  int batch = 64;         // images per step: personal samples and MNIST replay
  double replay = 0.75;   // of each batch, MNIST images (when MNIST is given); the rest personal samples
  float lr = 1e-4f;       // Adam, a tenth of it warming up over the first 10% of steps, then cosine decay
  bool stroke_widths = true;  // each time a sample is trained on: as it is, or thinned or thickened by 1 px
  float dense_lr_scale = 2;   // the dense layers learn at this many times lr (the convolutions at lr)
  uint64_t seed = 1;      // the holdout split, the batches, augmentation, dropout
  std::function<void(const FinetuneProgress&)> on_progress;  // called from the fine-tuning thread
  const std::atomic<bool>* cancel = nullptr;                  // set it (any thread) to stop before saving

  void validate() const;  // throws digits::Error naming the setting out of range
  TrainConfig train_config() const;  // the step's recipe: Adam, cosine, augmentation on (kDefaultAugment)
};

// What the fine-tuning reads: the person's samples (28x28, as load_samples gives them) and, when found,
// MNIST for replay (train) and measuring (test). `check`: more labelled samples to measure on, never
// trained on (e.g. a style's other samples); may be null.
struct FinetuneData {
  const Dataset* samples = nullptr;  // required, count > 0
  const Mnist* mnist = nullptr;      // null: no replay, no MNIST accuracy
  const Dataset* check = nullptr;
};

// One way the model misreads a set: `count` of its images of `truth` read as `read`.
struct Misread {
  int truth = 0, read = 0, count = 0;
};

struct Accuracy {
  int count = 0;
  double before = -1, after = -1;  // -1: not measured (nothing to measure on)
  std::vector<Misread> misread;    // after fine-tuning: every (truth, read) pair, the most frequent first
};

// The misreadings a confusion matrix ([truth][read]) holds, the most frequent first (ties: by truth, then read).
std::vector<Misread> misreadings(const std::array<std::array<int, 10>, 10>& confusion);
// "1 as 7 (9), 7 as 9 (3)": the first `most` of them; "" for none.
std::string describe(const std::vector<Misread>& misread, int most = 3);
// "1 and 4": the digits written that were misread, the most misread first (their counts summed over what
// they were read as), at most `most`; "" for none. The window and `digits finetune` ask for more of these.
std::string digits_to_add(const std::vector<Misread>& misread, int most = 2);

struct FinetuneResult {
  bool cancelled = false;  // stopped by the cancel flag: nothing was written
  bool out_of_time = false;  // stopped by options.seconds before the last step (the model is still saved)
  int trained_on = 0;      // personal samples trained on
  Accuracy held_back, mnist_test, check;
  int steps = 0, planned_steps = 0;
  double seconds = 0, cpu_seconds = 0;  // of the training steps (wall clock; this process's CPU time)
};

// MNIST for replay and measuring: from data_dir when one is given (where it must be found: else throws),
// else from where find_mnist_dir looks ($MNIST_DIR, data/mnist). Not found there: nullopt, and *why (when
// given) says why; fine-tuning then runs without replay.
std::optional<Mnist> find_replay_mnist(const std::string& data_dir, std::string* why = nullptr);

// Fine-tunes the model in `base_path` and writes it to `out_path` with the base model, sample count and
// date in its metadata. Throws digits::Error for bad options, an unusable base model, or an out_path that
// check_personal_out refuses.
FinetuneResult finetune(Backend& be, const std::string& base_path, const FinetuneData& data,
                        const FinetuneOptions& opt, const std::string& out_path);

// Each image's strokes thinned (erosion, thicker == false) or thickened (dilation) by one pixel: the darkest
// or brightest of the pixel and its four neighbours (ink is bright, as in MNIST). The stroke_widths option.
Dataset stroke_width_changed(const Dataset& d, bool thicker);

// Refuses (throws) a fine-tuned model's destination that would overwrite a bundled model (any file in a
// data/models folder) or the base model itself (the same file by any name); also checks it is writable.
void check_personal_out(const std::string& out_path, const std::string& base_path);

// Metadata keys of a fine-tuned model, besides those of every model file (model.h meta::).
namespace meta {
inline constexpr const char* kFinetunedFrom = "finetuned_from";        // the base model's path
inline constexpr const char* kPersonalSamples = "personal_samples";    // samples trained on
inline constexpr const char* kFinetunedAt = "finetuned_at";            // UTC, ISO 8601: 2026-12-02T06:10:00Z
inline constexpr const char* kFinetune = "finetune";                   // JSON: the options and the steps run
}  // namespace meta

}  // namespace digits
