// The inference thread of digits-gui: owns the backend and the Predictor, loads models and classifies
// snapshots off the UI thread. Only the newest request is computed (a newer one replaces a waiting one), and
// results go to callbacks that run on the worker thread: the frame forwards them with CallAfter.
// Plain C++ (no wx): nothing here may throw out of the thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "backend.h"
#include "predictor.h"

namespace digits::gui {

struct ModelInfo {
  bool ok = false;
  std::string backend;      // Backend::name(), e.g. "CPU (AVX2, 2 threads)"
  std::string reason;       // how the backend was chosen (select_backend's line, with its fallback)
  std::string model_path;   // what was loaded (or tried)
  std::string description;  // preset and test accuracy
  std::string error;        // why loading failed; empty when ok
  std::string warning;      // e.g. the CUDA device asked for is missing and the CPU runs instead
};

struct PredictionResult {
  uint64_t seq = 0;   // the request's number: larger is newer
  bool ok = false;
  Prediction prediction;
  std::string error;  // when !ok
};

class PredictionWorker {
 public:
  using ModelCallback = std::function<void(ModelInfo)>;
  using ResultCallback = std::function<void(PredictionResult)>;

  // Callbacks run on the worker thread.
  PredictionWorker(ModelCallback on_model, ResultCallback on_result);
  ~PredictionWorker();  // finishes the job in progress, drops waiting ones, joins
  PredictionWorker(const PredictionWorker&) = delete;
  PredictionWorker& operator=(const PredictionWorker&) = delete;

  // Selects a backend (CPU threads: `threads`, 0 = all) and loads a model file (empty: the bundled default).
  // An explicit CUDA request that cannot be met runs on the CPU (select_backend's auto fallback) and says
  // why in ModelInfo::warning.
  void load(const std::string& model_path, DevicePref pref, int threads);
  // Classifies `img`; replaces any prediction request still waiting.
  void predict(uint64_t seq, GrayImage img, const PreprocessOptions& opt = {});

 private:
  struct LoadJob {
    std::string path;
    DevicePref pref;
    int threads;
  };
  struct PredictJob {
    uint64_t seq;
    GrayImage img;
    PreprocessOptions opt;
  };
  void run();
  void do_load(const LoadJob& job);
  void do_predict(PredictJob& job);

  ModelCallback on_model_;
  ResultCallback on_result_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::optional<LoadJob> load_;
  std::optional<PredictJob> predict_;
  // Worker-thread state. The predictor holds a reference to the backend: destroy it first.
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Predictor> predictor_;
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace digits::gui
