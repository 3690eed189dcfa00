// Google Benchmark cases BM_<op>_Cpu/<label> for every op of the op harness's table at the real shapes of
// the presets' networks at batch 128 (tests/harness/op_cases.cpp; the label names the layer, e.g.
// best.conv3). Each case is checked once against the reference backend at the tests' small batch
// before it is timed. Items are images; FLOP/s and bytes/s are rates (FLOP/s counts direct-convolution
// FLOPs, also for Winograd, so the algorithms compare directly). BM_<conv op>_CpuIm2col times the 3x3
// convolutions of the same table with Winograd switched off (im2col + sgemm), for comparison.
// DIGITS_CPU_THREADS=n picks the thread count (default: all cores); the context line names it.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "backend.h"
#include "bench_common.h"
#include "cpu/cpu_ops.h"
#include "cpu/cpu_winograd.h"
#include "host_backend.h"

namespace {

using namespace digits;
using namespace digits::bench;

Backend& cpu_backend() {
  static const std::unique_ptr<Backend> be = [] {
    const char* env = std::getenv("DIGITS_CPU_THREADS");
    const int threads = env ? std::atoi(env) : 0;
    return make_cpu_backend(threads > 0 ? threads : 0);
  }();
  return *be;
}
Backend& reference_backend() {
  static const std::unique_ptr<Backend> be = make_reference_backend();
  return *be;
}

void time_on_cpu(benchmark::State& state, const harness::OpCase& c, const char* impl) {
  if (!validated_once(state, c, impl, cpu_backend(), reference_backend())) return;
  harness::DeviceTensors d(cpu_backend(), harness::make_tensors(c));
  for (auto _ : state) {
    c.run(cpu_backend(), d.args());
    benchmark::ClobberMemory();
  }
  state.SetLabel(c.shape);
  set_rates(state, c.images, c.flops, c.bytes);
}

// The 3x3 convolutions (where the CPU backend would pick Winograd) with Winograd off.
bool winograd_shape(const harness::OpCase& c) {
  return c.op.rfind("conv2d_", 0) == 0 && cpu::detail::winograd_applicable(c.conv);
}
void time_im2col(benchmark::State& state, const harness::OpCase& c) {
  cpu::detail::set_winograd_enabled(false);
  time_on_cpu(state, c, "CpuIm2col");
  cpu::detail::set_winograd_enabled(true);
}

const bool kRegistered = [] {
  benchmark::AddCustomContext("digits_cpu_backend", cpu_backend().name());
  for (auto* b : register_cases("Cpu", [](benchmark::State& st, const harness::OpCase& c) { time_on_cpu(st, c, "Cpu"); }))
    b->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (auto* b : register_cases("CpuIm2col", time_im2col, winograd_shape))
    b->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
