// The GPU's peaks for the kernel report's roofline (cuda_variants.h): an FMA throughput kernel (8
// independent chains per thread, every SM full) and a device-to-device copy, each timed with CUDA events,
// best of a few runs after a warm-up.
#include <algorithm>

#include "cuda_variants.h"
#include "device_buffer.h"
#include "launch.cuh"

namespace digits::cuda {

constexpr int kChains = 8;

__global__ void fma_peak_kernel(int iters, float m, float c, float* __restrict__ out) {
  float a[kChains];
#pragma unroll
  for (int j = 0; j < kChains; ++j) a[j] = 1.f + 1e-3f * float(threadIdx.x + j);
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int j = 0; j < kChains; ++j) a[j] = fmaf(a[j], m, c);
  }
  float s = 0.f;
#pragma unroll
  for (int j = 0; j < kChains; ++j) s += a[j];
  out[size_t(blockIdx.x) * blockDim.x + threadIdx.x] = s;  // every result is stored: nothing is dropped
}

namespace {

constexpr int kRuns = 5;

double best_ms(const std::function<void()>& fn) {
  fn();  // warm-up
  synchronize();
  double best = 1e30;
  for (int r = 0; r < kRuns; ++r) best = std::min(best, time_ms(fn));
  return best;
}

}  // namespace

double peak_fma_gflops() {
  const unsigned blocks = unsigned(multiprocessors()) * 8;
  const int iters = 1 << 12;  // about 0.1 s on a large GPU
  DeviceBuffer out(size_t(blocks) * kBlock * sizeof(float));
  const double ms = best_ms([&] {
    fma_peak_kernel<<<blocks, kBlock, 0, current_stream()>>>(iters, 0.9999999f, 1e-7f, static_cast<float*>(out.get()));
    CUDA_CHECK(cudaGetLastError());
  });
  return 2.0 * kChains * double(iters) * blocks * kBlock / (ms * 1e-3) * 1e-9;
}

double peak_copy_gbs() {
  const size_t bytes = size_t(256) << 20;
  DeviceBuffer a(bytes), b(bytes);
  CUDA_CHECK(cudaMemsetAsync(a.get(), 0, bytes, current_stream()));
  const double ms = best_ms([&] {
    CUDA_CHECK(cudaMemcpyAsync(b.get(), a.get(), bytes, cudaMemcpyDeviceToDevice, current_stream()));
  });
  return 2.0 * double(bytes) / (ms * 1e-3) * 1e-9;  // read + write
}

}  // namespace digits::cuda
