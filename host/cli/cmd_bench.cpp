// digits bench: end-to-end throughput per preset on one backend (synthetic data, no MNIST needed):
// training images/s, inference latency at batch 1 (median, p99) and images/s at batch 1000, as JSON.
// digits bench --kernels --report DIR: the kernel report instead (kernel_bench.h, host/kernel_report.h).
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>
#include <vector>

#include "common.h"
#include "cpu/cpu_ops.h"
#include "cuda_tools.h"
#include "error.h"
#include "kernel_bench.h"
#include "kernel_report.h"
#include "model.h"
#include "train_config.h"
#include "train_step.h"

namespace digits::cli {

namespace {

struct BenchArgs {
  Common common;
  std::vector<std::string> presets = {"seed", "keras", "best", "fast"};
  int train_steps = 0;  // timed training steps; 0: 30, or the kernel report's 10 (2 with --quick)
  int latency_runs = 200, big_batch = 1000;
  bool kernels = false, quick = false;  // --kernels: the kernel report; --quick: its short form
  std::string report_dir, filter;       // --report DIR, --filter TEXT
  double min_time = 0.1;                // --min-time seconds per op and variant
};

using Clock = std::chrono::steady_clock;

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

// The 1-minute load average (/proc/loadavg): other work on the machine bends every number measured.
std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string one;
  return f >> one ? one : "unknown";
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

double train_step_seconds(Backend& be, const Preset& p, const ResidentData& data, const int32_t* index, int steps) {
  const int B = p.train.batch;
  Model m(be, NetSpec::parse(p.spec), B);
  m.init(1);
  TrainStep step(be, m, p.train, B);
  for (int s = 0; s < 3; ++s) step.run(data, index, B, s, p.train.lr);  // warm-up (cuDNN algorithm choice, caches)
  be.synchronize();
  const auto t0 = Clock::now();
  for (int s = 0; s < steps; ++s) step.run(data, index, B, 3 + s, p.train.lr);
  be.synchronize();
  return seconds_since(t0) / steps;
}

namespace {

// Training steps: TrainStep, the object `digits train` runs (gather or augment, forward, loss, backward,
// update), on the first batch of `data` over and over.
void bench_training(Backend& be, const Preset& p, const ResidentData& data, const int32_t* index, int steps,
                    nlohmann::json& j) {
  const double images_per_s = p.train.batch / train_step_seconds(be, p, data, index, steps);
  j["train_images_per_s"] = images_per_s;
  j["train_epoch_s_estimate"] = 60000.0 / images_per_s;
}

// Inference latency at batch 1, including the host->backend copy and the result download.
void bench_latency(Backend& be, const Preset& p, int runs, nlohmann::json& j) {
  Model m(be, NetSpec::parse(p.spec), 1);
  m.init(1);
  const int pixels = int(m.spec().input.size());
  Buffer<float> x(be, size_t(pixels)), probs(be, kClasses), loss(be, 1);
  Buffer<int32_t> y(be, 1);
  y.upload(std::vector<int32_t>{0});
  std::vector<float> hx(size_t(pixels), 0.5f), hp(kClasses);
  std::vector<double> ms;
  for (int r = 0; r < runs + 10; ++r) {
    const auto t0 = Clock::now();
    be.upload(x.data(), hx.data(), hx.size() * sizeof(float));
    const float* logits = m.forward(x.data(), 1, false, 0);
    be.softmax_xent(1, kClasses, logits, y.data(), probs.data(), loss.data(), nullptr, 0.f);
    be.download(hp.data(), probs.data(), kClasses * sizeof(float));
    if (r >= 10) ms.push_back(1e3 * seconds_since(t0));
  }
  std::sort(ms.begin(), ms.end());
  j["infer_b1_ms_median"] = ms[ms.size() / 2];
  j["infer_b1_ms_p99"] = ms[std::min(ms.size() - 1, size_t(double(ms.size()) * 0.99))];
}

// Inference throughput at a large batch: gather, forward, softmax.
void bench_throughput(Backend& be, const Preset& p, const ResidentData& data, const int32_t* index, int NB,
                      nlohmann::json& j) {
  Model m(be, NetSpec::parse(p.spec), NB);
  m.init(1);
  Buffer<int32_t> y(be, size_t(NB));
  Buffer<float> x(be, size_t(NB) * data.pixels), probs(be, size_t(NB) * kClasses), loss(be, size_t(NB));
  auto run = [&] {
    be.gather_batch(NB, data.pixels, data.images.data(), data.labels.data(), index, m.input_scale(), 0.f, x.data(),
                    y.data());
    const float* logits = m.forward(x.data(), NB, false, 0);
    be.softmax_xent(NB, kClasses, logits, y.data(), probs.data(), loss.data(), nullptr, 0.f);
  };
  run();
  be.synchronize();
  const int reps = 5;
  const auto t0 = Clock::now();
  for (int r = 0; r < reps; ++r) run();
  be.synchronize();
  j["infer_b1000_images_per_s"] = reps * NB / seconds_since(t0);
}

nlohmann::json bench_preset(Backend& be, const Preset& p, const BenchArgs& a) {
  const ResidentData data(be, random_dataset(std::max(p.train.batch, a.big_batch), 7));
  std::vector<int32_t> order(size_t(data.count));
  std::iota(order.begin(), order.end(), 0);
  Buffer<int32_t> index(be, order.size());
  index.upload(order);
  nlohmann::json j;
  // What was measured, so that bench/compare_peers.py builds the same network and recipe in other frameworks.
  j["spec"] = p.spec;
  j["train_config"] = nlohmann::json::parse(p.train.to_json());
  bench_training(be, p, data, index.data(), a.train_steps > 0 ? a.train_steps : 30, j);
  bench_latency(be, p, a.latency_runs, j);
  bench_throughput(be, p, data, index.data(), a.big_batch, j);
  return j;
}

void run_kernel_report(const BenchArgs& a) {
  KernelBenchArgs k;
  k.cpu = cpu_model();
  k.machine = k.cpu + ", load average " + load_average() + " at the start";
  k.threads = a.common.threads;
  k.min_time = a.quick ? std::min(a.min_time, 0.01) : a.min_time;
  k.filter = a.filter;
  k.presets = a.presets;
  k.train_steps = a.train_steps > 0 ? a.train_steps : a.quick ? 2 : 10;
  k.quick = a.quick;
  // the CUDA half unless the flag or $DIGITS_DEVICE says cpu
  BackendOptions o = BackendOptions::from_env();
  if (!a.common.device.empty()) o.device = parse_device_pref(a.common.device);
  k.cuda = o.device != DevicePref::Cpu;
  if (o.device == DevicePref::Cuda) {  // asked for: no CUDA half is an error, said before the CPU half's minutes
    std::string why;
    DIGITS_CHECK(cuda_tools(why) != nullptr, "--device cuda: the kernel report's CUDA half cannot run: " << why);
  }
  const KernelReport r = run_kernel_bench(k);
  write_kernel_report(a.report_dir, r);
  std::cerr << "kernel report: " << r.kernels.size() << " op timings, " << r.train_steps.size() << " training steps; wrote "
            << a.report_dir << "/kernels.json, kernels.md, kernels.png\n";
}

void run_bench(const BenchArgs& a) {
  if (a.kernels) return run_kernel_report(a);
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
  cmd->add_option("--train-steps", a->train_steps, "timed training steps (default 30; kernel report: 10, --quick 2)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--latency-runs", a->latency_runs, "batch-1 inferences for the latency percentiles")->check(CLI::Range(10, 1000000));
  cmd->add_flag("--json", a->common.json, "one-line JSON");
  auto* kernels = cmd->add_flag("--kernels", a->kernels,
                                "kernel report instead: every op at the presets' shapes on every backend and variant, "
                                "against the machine's measured peaks (needs --report)");
  auto* report = cmd->add_option("--report", a->report_dir, "directory for kernels.json, kernels.md, kernels.png");
  kernels->needs(report);
  report->needs(kernels);
  cmd->add_option("--filter", a->filter, "kernel report: only ops whose \"op label\" contains this")->needs(kernels);
  cmd->add_option("--min-time", a->min_time, "kernel report: seconds of timed calls per op and variant")
      ->check(CLI::Range(0.0, 60.0))
      ->needs(kernels);
  cmd->add_flag("--quick", a->quick, "kernel report: 0.01 s per op, 2 training steps, short peak runs")->needs(kernels);
  cmd->callback([a] { run_bench(*a); });
}

}  // namespace digits::cli
