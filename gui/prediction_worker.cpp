// PredictionWorker: one std::thread, a mutex-guarded slot per job kind (load before predict), newest wins.
#include "prediction_worker.h"

#include <exception>
#include <utility>

#include "error.h"

namespace digits::gui {

PredictionWorker::PredictionWorker(ModelCallback on_model, ResultCallback on_result)
    : on_model_(std::move(on_model)), on_result_(std::move(on_result)), thread_([this] { run(); }) {}

PredictionWorker::~PredictionWorker() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
    load_.reset();
    predict_.reset();
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void PredictionWorker::load(const std::string& model_path, DevicePref pref, int threads) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    load_ = LoadJob{model_path, pref, threads};
    predict_.reset();  // a request for the old model is stale
  }
  cv_.notify_one();
}

void PredictionWorker::predict(uint64_t seq, GrayImage img, const PreprocessOptions& opt) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    predict_ = PredictJob{seq, std::move(img), opt};
  }
  cv_.notify_one();
}

void PredictionWorker::run() {
  for (;;) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return stop_ || load_ || predict_; });
    if (stop_) return;
    if (load_) {
      const LoadJob job = std::move(*load_);
      load_.reset();
      lk.unlock();
      do_load(job);
    } else {
      PredictJob job = std::move(*predict_);
      predict_.reset();
      lk.unlock();
      do_predict(job);
    }
  }
}

void PredictionWorker::do_load(const LoadJob& job) {
  ModelInfo info;
  info.model_path = job.path;
  try {
    predictor_.reset();  // it refers to the backend about to be replaced
    BackendOptions options = BackendOptions::from_env();
    // select_backend's fallback, the command line's: auto probes CUDA and says why it runs on the CPU. The
    // window never refuses to start, so an explicit cuda request is asked as auto and warns when it fell back.
    options.device = job.pref == DevicePref::Cpu ? DevicePref::Cpu : DevicePref::Auto;
    options.threads = job.threads;
    BackendChoice choice = select_backend(options);
    backend_ = std::move(choice.backend);
    info.reason = choice.reason;
    if (job.pref == DevicePref::Cuda && backend_->kind() != DeviceKind::Cuda) info.warning = choice.reason;
    info.backend = backend_->name();
    if (info.model_path.empty()) info.model_path = default_model_path();
    predictor_ = std::make_unique<Predictor>(*backend_, info.model_path);
    info.description = predictor_->model_description();
    info.ok = true;
  } catch (const std::exception& e) {
    predictor_.reset();
    info.ok = false;
    info.error = e.what();
  } catch (...) {
    predictor_.reset();
    info.ok = false;
    info.error = "unknown error while loading the model";
  }
  if (on_model_) on_model_(std::move(info));
}

void PredictionWorker::do_predict(PredictJob& job) {
  PredictionResult r;
  r.seq = job.seq;
  try {
    if (!predictor_) DIGITS_FAIL("no model loaded: choose one with File > Choose model");
    r.prediction = predictor_->predict(job.img, job.opt);
    r.ok = true;
  } catch (const std::exception& e) {
    r.error = e.what();
  } catch (...) {
    r.error = "unknown error during prediction";
  }
  if (on_result_) on_result_(std::move(r));
}

}  // namespace digits::gui
