// Inverted dropout with the mask drawn from Philox4x32-10 keyed by (seed, element index), the same
// function the CPU uses (host/philox.h), so masks agree bit for bit and backward recomputes the mask
// instead of storing it. One Philox call yields four words: thread j handles elements 4j..4j+3.
#include "dropout.cuh"
#include "launch.cuh"
#include "philox.h"

namespace digits::cuda {

// ---- kernels ------------------------------------------------------------------------------------------

// x and y may alias: no __restrict__.
__global__ void dropout_kernel(size_t n, float rate, float scale, uint64_t seed, const float* x, float* y) {
  const size_t groups = (n + 3) / 4;
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t j = size_t(blockIdx.x) * blockDim.x + threadIdx.x; j < groups; j += stride) {
    // Exactly philox_uniform(seed, i) for i = 4j + k, computed once for the four k.
    const Philox4 r = philox4x32_10(uint32_t(j), uint32_t(j >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const size_t i = 4 * j + k;
      if (i < n) {
        const float u = float(r.v[k] >> 8) * (1.0f / 16777216.0f);
        y[i] = u >= rate ? x[i] * scale : 0.0f;
      }
    }
  }
}

// ---- launchers ----------------------------------------------------------------------------------------

namespace launch {

void dropout(cudaStream_t st, size_t n, float rate, uint64_t seed, const float* x, float* y) {
  if (n == 0) return;
  // rate >= 1 drops everything (u < 1 always); the scale is then never used.
  const float scale = rate < 1.0f ? 1.0f / (1.0f - rate) : 0.0f;
  dropout_kernel<<<grid_for((n + 3) / 4), kBlock, 0, st>>>(n, rate, scale, seed, x, y);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------

void dropout_forward(size_t n, float rate, uint64_t seed, const float* x, float* y) {
  launch::dropout(current_stream(), n, rate, seed, x, y);
  DIGITS_CUDA_AFTER_OP("dropout_forward");
}

void dropout_backward(size_t n, float rate, uint64_t seed, const float* dy, float* dx) {
  launch::dropout(current_stream(), n, rate, seed, dy, dx);
  DIGITS_CUDA_AFTER_OP("dropout_backward");
}

}  // namespace digits::cuda
