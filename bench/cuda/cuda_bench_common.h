// What every CUDA benchmark file needs: the backend of device 0 (one per process, shared by all files),
// GPU timing with CUDA events, uploads, and the element-wise agreement check against the CPU.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>
#include <vector>

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

template <class T>
Buffer<T> dev(Backend& be, const std::vector<T>& h) {
  Buffer<T> b(be, h.size());
  b.upload(h);
  return b;
}

// Element-wise |a - e| <= atol + rtol |e| (the kConvGemm tolerance of tests/testing/compare.h).
inline bool agrees(const std::vector<float>& a, const std::vector<float>& e, double atol = 1e-5, double rtol = 1e-4) {
  if (a.size() != e.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(double(a[i]) - double(e[i])) <= atol + rtol * std::fabs(double(e[i])))) return false;
  return true;
}

}  // namespace digits::bench
