// What every CUDA benchmark file needs: the backend of device 0 (one per process, shared by all files),
// GPU timing with CUDA events. Data, uploads and the agreement check are the op harness's (bench_common.h).
#pragma once

#include <benchmark/benchmark.h>

#include <memory>

#include "backend.h"
#include "cuda_backend.h"
#include "cuda_ops.h"
#include "cuda_variants.h"

namespace digits::bench {

// The backend of device 0, or null after SkipWithError("no CUDA device").
inline Backend* gpu(benchmark::State& state) {
  static std::unique_ptr<Backend> be = cuda_device_count() > 0 ? make_cuda_backend(0) : nullptr;
  if (!be) state.SkipWithError("no CUDA device");
  return be.get();
}

// Times fn with CUDA events, one sample per iteration, after a warm-up call (which also picks algorithms
// and sizes workspaces).
template <class Fn>
void time_gpu(benchmark::State& state, const Fn& fn) {
  fn();
  cuda::synchronize();
  for (auto _ : state) state.SetIterationTime(cuda::time_ms(fn) / 1e3);
}

}  // namespace digits::bench
