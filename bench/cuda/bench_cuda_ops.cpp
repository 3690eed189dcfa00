// Google Benchmark cases BM_<op>_Cuda/<label> for every op of the op harness's table on the CUDA backend
// at the real shapes of the presets' networks at batch 128 (tests/harness/op_cases.cpp), and
// BM_<conv op>_CudaDirect/<label>: the same convolutions with our direct kernels instead of cuDNN, side
// by side. GPU time only: CUDA events around the op (UseManualTime), after one warm-up call (cuDNN's
// algorithm choice). Each case is checked once against the CPU backend at the tests' small batch before
// it is timed. Items are images; FLOP/s and bytes/s are rates. Without a GPU every case reports
// "no CUDA device".
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "../bench_common.h"
#include "backend.h"
#include "cuda_bench_common.h"
#include "cuda_ops.h"
#include "cuda_variants.h"
#include "device_info.h"

namespace {

using namespace digits;
using namespace digits::bench;

// The GPU's name goes into the run's context (only compare runs made on the same card).
void add_context() {
  if (cuda_device_count() == 0) {
    benchmark::AddCustomContext("cuda_device", "none (" + cuda_probe_status() + ")");
    return;
  }
  const CudaDeviceInfo info = cuda_device_info(0);
  benchmark::AddCustomContext("cuda_device", info.name + " (sm_" + std::to_string(info.cc_major) +
                                                 std::to_string(info.cc_minor) + ")");
  benchmark::AddCustomContext("cuda_tf32", cuda::tf32() ? "on" : "off");
}

Backend& cpu_backend() {
  static const std::unique_ptr<Backend> be = make_cpu_backend(0);
  return *be;
}

void time_on_gpu(benchmark::State& state, const harness::OpCase& c, const char* impl, const Variant& variant) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, c, impl, *be, cpu_backend(), variant)) return;
  const harness::OpCase v = with_variant(c, variant);
  harness::DeviceTensors d(*be, harness::make_tensors(v));
  time_gpu(state, [&] { v.run(*be, d.args()); });
  state.SetLabel(c.shape);
  set_rates(state, c.images, c.flops, c.bytes);
}

// Our direct convolution kernels (cuda_variants.h) on the conv cases' own tensors.
std::function<void(Backend&, const harness::Args&)> direct_conv(const harness::OpCase& c) {
  const ConvShape s = c.conv;
  if (c.op == "conv2d_forward")
    return [s](Backend&, const harness::Args& a) { cuda::conv2d_forward_direct(s, a.f(0), a.f(1), a.f(2)); };
  if (c.op == "conv2d_backward_data")
    return [s](Backend&, const harness::Args& a) { cuda::conv2d_backward_data_direct(s, a.f(0), a.f(1), a.f(2)); };
  return [s](Backend&, const harness::Args& a) { cuda::conv2d_backward_filter_direct(s, a.f(0), a.f(1), a.f(2)); };
}

const bool kRegistered = [] {
  add_context();
  const auto on_backend = [](benchmark::State& st, const harness::OpCase& c) { time_on_gpu(st, c, "Cuda", nullptr); };
  for (auto* b : register_cases("Cuda", on_backend)) b->UseManualTime()->Unit(benchmark::kMicrosecond);
  const auto direct = [](benchmark::State& st, const harness::OpCase& c) { time_on_gpu(st, c, "CudaDirect", direct_conv); };
  const auto is_conv = [](const harness::OpCase& c) { return c.op.rfind("conv2d_", 0) == 0; };
  for (auto* b : register_cases("CudaDirect", direct, is_conv)) b->UseManualTime()->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace
