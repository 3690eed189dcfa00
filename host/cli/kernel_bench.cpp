// Measuring the kernel report (kernel_bench.h). Times are medians of calls after a warm-up call: CPU ops
// by the wall clock, GPU ops by CUDA events; cuDNN's per-algorithm times are those of its Find call.
#include "kernel_bench.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <numeric>
#include <sstream>

#include "cpu/cpu_conv.h"
#include "cpu/cpu_ops.h"
#include "cpu/cpu_winograd.h"
#include "cuda_tools.h"
#include "error.h"
#include "harness/op_harness.h"
#include "model.h"
#include "peaks.h"

namespace digits::cli {
namespace {

using Clock = std::chrono::steady_clock;
using harness::OpCase;

bool is_conv(const OpCase& c) { return c.op.rfind("conv2d_", 0) == 0; }
bool is_dense(const OpCase& c) { return c.op.rfind("dense_", 0) == 0; }

// Median seconds per call: `timed` makes one call and returns its seconds; one warm-up call, then calls
// until min_time seconds are timed (at least 3, at most 1000).
double median_seconds(const std::function<double()>& timed, double min_time) {
  timed();
  std::vector<double> t;
  double total = 0;
  while ((total < min_time || t.size() < 3) && t.size() < 1000) {
    t.push_back(timed());
    total += t.back();
  }
  std::nth_element(t.begin(), t.begin() + long(t.size() / 2), t.end());
  return t[t.size() / 2];
}

std::function<double()> wall_timer(const std::function<void()>& fn) {
  return [fn] {
    const auto t0 = Clock::now();
    fn();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
}

void add_row(KernelReport& r, const OpCase& c, const std::string& backend, const std::string& variant, double s) {
  r.kernels.push_back(make_kernel_row(r, KernelRow{c.op, c.label, c.shape, backend, variant, s, c.flops, c.bytes, {}}));
}

// The CPU convolution's algorithm switches, back on when it goes out of scope.
struct ConvSwitches {
  ConvSwitches(bool winograd, bool direct) {
    cpu::detail::set_winograd_enabled(winograd);
    cpu::detail::set_direct_enabled(direct);
  }
  ~ConvSwitches() {
    cpu::detail::set_winograd_enabled(true);
    cpu::detail::set_direct_enabled(true);
  }
  ConvSwitches(const ConvSwitches&) = delete;
  ConvSwitches& operator=(const ConvSwitches&) = delete;
};

// One case on the CPU: a convolution once per algorithm the CPU code has for its shape (all switches on,
// Winograd off, direct off), any other op as the backend runs it.
void time_cpu_case(KernelReport& r, Backend& be, const OpCase& c, double min_time) {
  harness::DeviceTensors d(be, harness::make_tensors(c));
  const auto timer = wall_timer([&] { c.run(be, d.args()); });
  if (!is_conv(c)) return add_row(r, c, "cpu", "default", median_seconds(timer, min_time));
  std::vector<std::string> done;
  for (const auto& [winograd, direct] : {std::pair{true, true}, {false, true}, {true, false}}) {
    const ConvSwitches on(winograd, direct);
    const std::string algo = cpu::detail::to_string(cpu::detail::conv_algo(c.op, c.conv));
    if (std::find(done.begin(), done.end(), algo) != done.end()) continue;
    done.push_back(algo);
    add_row(r, c, "cpu", algo, median_seconds(timer, min_time));
  }
}

// One case on CUDA: the backend's op; for a convolution also our direct kernels and every cuDNN algorithm.
void time_cuda_case(KernelReport& r, CudaTools& t, const OpCase& c, double min_time) {
  harness::DeviceTensors d(*t.backend, harness::make_tensors(c));
  const harness::Args& a = d.args();
  const auto gpu_timer = [&t](std::function<void()> fn) { return [&t, fn] { return t.time_ms(fn) * 1e-3; }; };
  add_row(r, c, "cuda", is_conv(c) ? "cudnn chosen" : "default",
          median_seconds(gpu_timer([&] { c.run(*t.backend, a); }), min_time));
  if (!is_conv(c)) return;
  add_row(r, c, "cuda", "direct kernels",
          median_seconds(gpu_timer([&] { t.conv_direct(c.op, c.conv, a.f(0), a.f(1), a.f(2)); }), min_time));
  for (const auto& [algo, ms] : t.cudnn_algorithms(c.op, c.conv, a.f(0), a.f(1), a.f(2)))
    if (ms > 0) add_row(r, c, "cuda", "cudnn " + algo, ms * 1e-3);
}

// FLOPs of one training step of p: its convolutions and dense layers forward and backward, at its batch
// (the op harness's counts), less the input gradient the first layer never computes.
double train_flops(const Preset& p) {
  const NetSpec spec = NetSpec::parse(p.spec);
  const std::string first = p.name + "." + spec.layers.at(0).kind + "1";
  double f = 0;
  for (const OpCase& c : harness::op_cases(p.train.batch, false)) {
    if (!is_conv(c) && !is_dense(c)) continue;
    std::istringstream labels(c.label);  // "seed.conv2+best.conv3": one layer of each
    for (std::string part; std::getline(labels, part, '+');)
      if (part.rfind(p.name + ".", 0) == 0 && !(part == first && c.op.find("backward_data") != std::string::npos)) f += c.flops;
  }
  return f;
}

void time_train_steps(KernelReport& r, Backend& be, const std::string& backend, const KernelBenchArgs& a) {
  for (const std::string& name : a.presets) {
    const Preset& p = find_preset(name);
    const ResidentData data(be, random_dataset(p.train.batch, 7));
    std::vector<int32_t> order(size_t(data.count));
    std::iota(order.begin(), order.end(), 0);
    Buffer<int32_t> index(be, order.size());
    index.upload(order);
    std::cerr << "kernel report: " << backend << " training step of " << name << "\n";
    r.train_steps.push_back({p.name, backend, p.train.batch, train_step_seconds(be, p, data, index.data(), a.train_steps),
                             train_flops(p)});
  }
}

std::vector<OpCase> selected_cases(const std::string& filter) {
  std::vector<OpCase> cases;
  for (OpCase& c : harness::op_cases(harness::kBenchBatch, false))
    if (filter.empty() || (c.op + " " + c.label).find(filter) != std::string::npos) cases.push_back(std::move(c));
  return cases;
}

void cpu_part(KernelReport& r, const std::vector<OpCase>& cases, const KernelBenchArgs& a) {
  const std::unique_ptr<Backend> be = make_cpu_backend(a.threads);
  const int threads = cpu::num_threads();
  std::cerr << "kernel report: measuring the CPU's peaks on " << threads << " threads\n";
  // Many short runs, the best kept: on a shared machine some of them find every thread on a core.
  const Peaks peaks = measure_cpu_peaks(threads, a.quick ? 0.02 : 0.05, a.quick ? 3 : 10);
  r.backends.push_back({"cpu", a.cpu + ", " + std::to_string(threads) + " threads", peaks});
  std::cerr << "kernel report: " << cases.size() << " ops on the CPU\n";
  for (const OpCase& c : cases) time_cpu_case(r, *be, c, a.min_time);
  time_train_steps(r, *be, "cpu", a);
}

void cuda_part(KernelReport& r, const std::vector<OpCase>& cases, const KernelBenchArgs& a) {
  std::string why = "--device cpu (or DIGITS_DEVICE=cpu)";
  const std::unique_ptr<CudaTools> t = a.cuda ? cuda_tools(why) : nullptr;
  if (!t) {
    r.skipped.push_back("cuda: " + why);
    std::cerr << "kernel report: CUDA skipped: " << why << "\n";
    return;
  }
  std::cerr << "kernel report: measuring the peaks of " << t->device << "\n";
  r.backends.push_back({"cuda", t->device, Peaks{{{"fma", t->peak_fma_gflops()}}, {{"copy", t->peak_copy_gbs()}}}});
  for (const OpCase& c : cases) time_cuda_case(r, *t, c, a.min_time);
  time_train_steps(r, *t->backend, "cuda", a);
}

}  // namespace

KernelReport run_kernel_bench(const KernelBenchArgs& a) {
  KernelReport r;
  r.machine = a.machine;
  const std::vector<OpCase> cases = selected_cases(a.filter);
  DIGITS_CHECK(!cases.empty(), "--filter '" << a.filter << "' matches no op (it is matched against \"op label\", "
                                            << "e.g. \"conv2d_forward\" or \"best.conv3\")");
  cpu_part(r, cases, a);
  cuda_part(r, cases, a);
  return r;
}

}  // namespace digits::cli
