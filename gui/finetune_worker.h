// The fine-tuning thread of digits-gui ("Learn my handwriting"): reads the personal samples, finds MNIST for
// replay (--data, $MNIST_DIR, data/mnist: the command line's search), picks its own backend and runs
// finetune() into the personal model file. One run per worker: destroying it cancels the run (finetune()
// then writes nothing, so the previous model file stays as it was) and joins the thread.
// Plain C++ (no wx): callbacks run on the worker thread, the frame forwards them with CallAfter.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "finetune.h"

namespace digits::gui {

struct LearnJob {
  std::string base_model;   // the model fine-tuned (never the personal model itself)
  std::string samples_dir;  // the personal sample store
  std::string out;          // the personal model to write
  std::string data_dir;     // --data: MNIST must be found there; empty: searched, and optional
  DevicePref device = DevicePref::Auto;
  double seconds = 0;       // > 0: stop training after this long (the model is still saved)
};

struct LearnResult {
  bool ok = false;                   // finished and written, or cancelled (result.cancelled)
  std::string error;                 // when !ok
  int samples = 0;                   // usable samples read
  std::vector<std::string> skipped;  // "<path>: <why>" per sample that could not be used
  bool mnist = false;                // MNIST found: replayed, and measured on
  std::string backend;               // the backend that fine-tuned
  FinetuneResult result;
};

class FinetuneWorker {
 public:
  using ProgressCallback = std::function<void(const FinetuneProgress&)>;
  using DoneCallback = std::function<void(LearnResult)>;

  // Starts the run at once. `on_done` is the thread's last call.
  FinetuneWorker(LearnJob job, ProgressCallback on_progress, DoneCallback on_done);
  ~FinetuneWorker();  // cancels a run still going and joins
  FinetuneWorker(const FinetuneWorker&) = delete;
  FinetuneWorker& operator=(const FinetuneWorker&) = delete;

  void cancel() { cancel_ = true; }  // any thread; the run stops at its next step and writes nothing

 private:
  LearnResult run();

  LearnJob job_;
  ProgressCallback on_progress_;
  DoneCallback on_done_;
  std::atomic<bool> cancel_{false};
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace digits::gui
