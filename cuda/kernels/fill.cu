// Fills a float buffer with a value: cudaMemsetAsync for +0.0 (all bits zero), else a grid-stride kernel.
#include <cmath>

#include "fill.cuh"
#include "launch.cuh"

namespace digits::cuda {

__global__ void fill_kernel(size_t n, float value, float* __restrict__ p) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) p[i] = value;
}

namespace launch {

void fill(cudaStream_t st, float* p, size_t n, float value) {
  if (n == 0) return;
  if (value == 0.0f && !std::signbit(value)) {
    CUDA_CHECK(cudaMemsetAsync(p, 0, n * sizeof(float), st));
    return;
  }
  fill_kernel<<<grid_for(n), kBlock, 0, st>>>(n, value, p);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

void fill(float* p, size_t n, float value) {
  launch::fill(current_stream(), p, n, value);
  DIGITS_CUDA_AFTER_OP("fill");
}

}  // namespace digits::cuda
