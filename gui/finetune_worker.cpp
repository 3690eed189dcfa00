// FinetuneWorker: one std::thread per run; load the samples and MNIST, select a backend, finetune().
#include "finetune_worker.h"

#include <exception>
#include <optional>
#include <sstream>
#include <utility>

#include "error.h"
#include "mnist_idx.h"
#include "sample_store.h"

namespace digits::gui {

FinetuneWorker::FinetuneWorker(LearnJob job, ProgressCallback on_progress, DoneCallback on_done)
    : job_(std::move(job)), on_progress_(std::move(on_progress)), on_done_(std::move(on_done)), thread_([this] {
        LearnResult r = run();
        if (on_done_) on_done_(std::move(r));
      }) {}

FinetuneWorker::~FinetuneWorker() {
  cancel_ = true;
  if (thread_.joinable()) thread_.join();
}

LearnResult FinetuneWorker::run() {
  LearnResult r;
  try {
    std::ostringstream warnings;  // one line per skipped file; LoadedSamples::skipped has them too
    const LoadedSamples samples = load_samples(job_.samples_dir, warnings);
    r.samples = samples.data.count;
    r.skipped = samples.skipped;
    const std::optional<Mnist> mnist = find_replay_mnist(job_.data_dir);
    r.mnist = mnist.has_value();
    if (cancel_) {  // closed while MNIST loaded: nothing trained, nothing written
      r.result.cancelled = true;
      r.ok = true;
      return r;
    }
    BackendOptions options = BackendOptions::from_env();
    options.device = job_.device == DevicePref::Cpu ? DevicePref::Cpu : DevicePref::Auto;
    options.threads = 0;  // all cores: the prediction worker keeps its own backend and thread
    BackendChoice choice = select_backend(options);
    r.backend = choice.backend->name();
    FinetuneOptions opt;
    opt.seconds = job_.seconds;
    opt.on_progress = on_progress_;
    opt.cancel = &cancel_;
    const FinetuneData data{&samples.data, mnist ? &*mnist : nullptr, nullptr};
    r.result = finetune(*choice.backend, job_.base_model, data, opt, job_.out);
    r.ok = true;
  } catch (const std::exception& e) {
    r.error = e.what();
  } catch (...) {
    r.error = "unknown error while fine-tuning";
  }
  return r;
}

}  // namespace digits::gui
