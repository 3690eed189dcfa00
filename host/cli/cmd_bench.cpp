// digits bench: end-to-end throughput per preset on one backend (synthetic data, no MNIST needed):
// training images/s, inference latency at batch 1 (median, p99) and images/s at batch 1000, as JSON.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common.h"
#include "cpu/cpu_ops.h"
#include "model.h"
#include "optimizer.h"

namespace digits::cli {

namespace {

struct BenchArgs {
  Common common;
  std::vector<std::string> presets = {"seed", "keras", "best"};
  int train_steps = 30, latency_runs = 200, big_batch = 1000;
};

using Clock = std::chrono::steady_clock;

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

nlohmann::json bench_preset(Backend& be, const Preset& p, const BenchArgs& a) {
  const NetSpec spec = NetSpec::parse(p.spec);
  const int B = p.train.batch, pixels = 28 * 28;
  std::mt19937 rng(7);
  std::vector<uint8_t> h_img(size_t(std::max(B, a.big_batch)) * pixels), h_lab(size_t(std::max(B, a.big_batch)));
  for (auto& v : h_img) v = uint8_t(rng() & 255);
  for (auto& v : h_lab) v = uint8_t(rng() % 10);
  std::vector<int32_t> h_idx(h_lab.size());
  for (size_t i = 0; i < h_idx.size(); ++i) h_idx[i] = int32_t(i);
  Buffer<uint8_t> img(be, h_img.size()), lab(be, h_lab.size());
  Buffer<int32_t> idx(be, h_idx.size()), y(be, h_idx.size());
  img.upload(h_img), lab.upload(h_lab), idx.upload(h_idx);
  Buffer<float> x(be, h_idx.size() * pixels), probs(be, h_idx.size() * 10), loss(be, h_idx.size()),
      dlogits(be, h_idx.size() * 10);
  nlohmann::json j;

  {  // training steps: forward, loss, backward, optimizer (the same sequence as the trainer)
    Model m(be, spec, B);
    m.init(1);
    Optimizer opt(be, p.train, m.param_count());
    auto step = [&](int s) {
      if (p.train.augment)  // as the trainer does for presets that augment (28x28 images)
        be.augment_batch(B, 28, 28, img.data(), lab.data(), idx.data(), p.train.augment_params, uint64_t(s), 1.f / 255,
                         0.f, x.data(), y.data());
      else
        be.gather_batch(B, pixels, img.data(), lab.data(), idx.data(), 1.f / 255, 0.f, x.data(), y.data());
      const float* logits = m.forward(x.data(), B, true, uint64_t(s));
      be.softmax_xent(B, 10, logits, y.data(), probs.data(), loss.data(), dlogits.data(), 1.f / B);
      m.backward(dlogits.data(), B, uint64_t(s));
      opt.step(m.params(), m.grads(), p.train.lr);
    };
    for (int s = 0; s < 3; ++s) step(s);  // warm-up (cuDNN algorithm choice, caches)
    be.synchronize();
    const auto t0 = Clock::now();
    for (int s = 0; s < a.train_steps; ++s) step(s);
    be.synchronize();
    const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    j["train_images_per_s"] = a.train_steps * B / sec;
    j["train_epoch_s_estimate"] = 60000.0 / (a.train_steps * B / sec);
  }
  {  // inference latency at batch 1, including the host->backend copy and the result download
    Model m(be, spec, 1);
    m.init(1);
    std::vector<float> hx(pixels, 0.5f), hp(10);
    std::vector<double> ms;
    for (int r = 0; r < a.latency_runs + 10; ++r) {
      const auto t0 = Clock::now();
      be.upload(x.data(), hx.data(), hx.size() * sizeof(float));
      const float* logits = m.forward(x.data(), 1, false, 0);
      be.softmax_xent(1, 10, logits, y.data(), probs.data(), loss.data(), nullptr, 0.f);
      be.download(hp.data(), probs.data(), 10 * sizeof(float));
      if (r >= 10) ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    j["infer_b1_ms_median"] = ms[ms.size() / 2];
    j["infer_b1_ms_p99"] = ms[std::min(ms.size() - 1, size_t(double(ms.size()) * 0.99))];
  }
  {  // inference throughput at a large batch
    const int NB = a.big_batch;
    Model m(be, spec, NB);
    m.init(1);
    auto run = [&] {
      be.gather_batch(NB, pixels, img.data(), lab.data(), idx.data(), 1.f / 255, 0.f, x.data(), y.data());
      const float* logits = m.forward(x.data(), NB, false, 0);
      be.softmax_xent(NB, 10, logits, y.data(), probs.data(), loss.data(), nullptr, 0.f);
    };
    run();
    be.synchronize();
    const int reps = 5;
    const auto t0 = Clock::now();
    for (int r = 0; r < reps; ++r) run();
    be.synchronize();
    j["infer_b1000_images_per_s"] = reps * NB / std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return j;
}

void run_bench(const BenchArgs& a) {
  BackendChoice be = choose_backend(a.common);
  nlohmann::json j;
  j["device"] = be.backend->name();
  j["machine"] = {{"cpu", cpu_model()}, {"hardware_threads", std::thread::hardware_concurrency()}};
  j["threads"] = be.backend->kind() == DeviceKind::Cpu ? cpu::num_threads() : 0;
  j["build"] = {{"version", DIGITS_VERSION}, {"cuda_backend", cuda_compiled()},
#ifdef NDEBUG
                {"type", "Release"}
#else
                {"type", "Debug"}
#endif
  };
  for (const auto& name : a.presets) {
    std::cerr << "bench " << name << " on " << be.backend->name() << "...\n";
    j["presets"][name] = bench_preset(*be.backend, find_preset(name), a);
  }
  std::cout << (a.common.json ? j.dump() : j.dump(2)) << "\n";
}

}  // namespace

void register_bench(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "end-to-end training and inference throughput per preset (JSON)");
  add_device_flags(cmd, a->common);
  cmd->add_option("--presets", a->presets, "presets to measure")->delimiter(',');
  cmd->add_option("--train-steps", a->train_steps, "timed training steps")->check(CLI::Range(1, 100000));
  cmd->add_option("--latency-runs", a->latency_runs, "batch-1 inferences for the latency percentiles")->check(CLI::Range(10, 1000000));
  cmd->add_flag("--json", a->common.json, "one-line JSON");
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace digits::cli
