// BM_AugmentBatch_CudaKernel: the CUDA augment_batch on 28 x 28 images drawn from a resident set of
// 60000, for a training batch (n 128) and a whole epoch at once (n 60000), with every bound 0 (aug:0) and
// with the trainer's bounds (aug:1). Compare with BM_GatherBatch_CudaKernel (bench_cuda_ops.cpp). GPU time
// only (CUDA events, after a warm-up call); each case is checked once against digits::cpu before it is
// timed. Without a GPU every case reports "no CUDA device".
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "../bench_common.h"
#include "cuda_bench_common.h"
#include "backend.h"
#include "cpu/cpu_ops.h"
#include "cuda_backend.h"
#include "cuda_ops.h"
#include "cuda_variants.h"

namespace {

using namespace digits;

using namespace digits::bench;

constexpr float kScale = 1.0f / (255.0f * 0.3081f), kShift = -0.1307f / 0.3081f;

AugmentParams params_from(int64_t aug) { return aug ? AugmentParams{15.f, 0.15f, 0.2f, 3.f, 2.f} : AugmentParams{}; }

void BM_AugmentBatch_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be) return;
  const int count = 60000, H = 28, W = 28, pixels = H * W, n = int(state.range(0));
  const AugmentParams a = params_from(state.range(1));
  std::mt19937_64 rng(16);
  std::vector<uint8_t> h_images(size_t(count) * pixels), h_labels(static_cast<size_t>(count));
  for (auto& p : h_images) p = uint8_t(rng());
  for (auto& l : h_labels) l = uint8_t(rng() % 10);
  std::vector<int32_t> h_index(static_cast<size_t>(n));
  for (auto& i : h_index) i = int32_t(rng() % count);
  auto images = dev(*be, h_images), labels = dev(*be, h_labels);
  auto index = dev(*be, h_index);
  Buffer<float> x(*be, size_t(n) * pixels);
  Buffer<int32_t> y(*be, size_t(n));
  // Check once against the CPU on the first (up to) 1024 images: image i depends only on (seed, i).
  // Tolerance 1e-4 of the value range, as tests/cuda/cuda_augment_test.cpp explains.
  {
    const int m = std::min(n, 1024);
    std::vector<float> want_x(size_t(m) * pixels);
    std::vector<int32_t> want_y(static_cast<size_t>(m));
    cpu::augment_batch(m, H, W, h_images.data(), h_labels.data(), h_index.data(), a, 7, kScale, kShift, want_x.data(),
                       want_y.data());
    be->augment_batch(m, H, W, images.data(), labels.data(), index.data(), a, 7, kScale, kShift, x.data(), y.data());
    std::vector<float> got_x = x.download();
    std::vector<int32_t> got_y = y.download();
    got_x.resize(want_x.size());
    got_y.resize(want_y.size());
    const double atol = 1e-4 * 255.0 * kScale;
    bool ok = got_y == want_y;
    for (size_t k = 0; ok && k < want_x.size(); ++k) ok = std::fabs(double(got_x[k]) - double(want_x[k])) <= atol;
    if (!ok) {
      state.SkipWithError("cuda augment_batch differs from cpu");
      return;
    }
  }
  uint64_t seed = 0;
  const auto op = [&] {
    be->augment_batch(n, H, W, images.data(), labels.data(), index.data(), a, seed++, kScale, kShift, x.data(),
                      y.data());
  };
  op();
  cuda::synchronize();
  for (auto _ : state) state.SetIterationTime(cuda::time_ms(op) / 1e3);
  set_rates(state, n, 0, double(n) * pixels * (1 + sizeof(float)));
}
BENCHMARK(BM_AugmentBatch_CudaKernel)
    ->ArgNames({"n", "aug"})
    ->Args({kBatch, 0})
    ->Args({kBatch, 1})
    ->Args({60000, 0})
    ->Args({60000, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
