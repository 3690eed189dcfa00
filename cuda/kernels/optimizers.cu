// Fused optimizer updates over flat parameter buffers: each reads w, g and its state once and writes
// them once (memory bound), grid-stride. Formulas as in host/ops.h; Adam's bias corrections are
// computed once on the host in double.
#include <cmath>

#include "launch.cuh"
#include "optimizers.cuh"

namespace digits::cuda {

// ---- kernels ------------------------------------------------------------------------------------------

__global__ void adadelta_kernel(size_t n, float lr, float rho, float eps, float* __restrict__ w,
                                const float* __restrict__ g, float* __restrict__ accum_grad,
                                float* __restrict__ accum_delta) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float gi = g[i];
    const float a = rho * accum_grad[i] + (1.0f - rho) * gi * gi;
    const float u = accum_delta[i];
    const float d = sqrtf(u + eps) / sqrtf(a + eps) * gi;
    accum_grad[i] = a;
    accum_delta[i] = rho * u + (1.0f - rho) * d * d;
    w[i] -= lr * d;
  }
}

__global__ void sgd_kernel(size_t n, float lr, float momentum, float* __restrict__ w, const float* __restrict__ g,
                           float* __restrict__ velocity) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float v = momentum * velocity[i] + g[i];
    velocity[i] = v;
    w[i] -= lr * v;
  }
}

__global__ void adam_kernel(size_t n, float lr, float beta1, float beta2, float eps, float bc1, float bc2,
                            float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m,
                            float* __restrict__ v) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float gi = g[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
    const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
  }
}

// ---- launchers ----------------------------------------------------------------------------------------

namespace launch {

void adadelta_update(cudaStream_t st, size_t n, const AdadeltaParams& p, float* w, const float* g, float* accum_grad,
                     float* accum_delta) {
  if (n == 0) return;
  adadelta_kernel<<<grid_for(n), kBlock, 0, st>>>(n, p.lr, p.rho, p.eps, w, g, accum_grad, accum_delta);
  CUDA_CHECK(cudaGetLastError());
}

void sgd_update(cudaStream_t st, size_t n, const SgdParams& p, float* w, const float* g, float* velocity) {
  if (n == 0) return;
  sgd_kernel<<<grid_for(n), kBlock, 0, st>>>(n, p.lr, p.momentum, w, g, velocity);
  CUDA_CHECK(cudaGetLastError());
}

void adam_update(cudaStream_t st, size_t n, const AdamParams& p, float* w, const float* g, float* m, float* v) {
  if (n == 0) return;
  DIGITS_CHECK(p.t >= 1, "adam_update: step t is 1-based, got " << p.t);
  const float bc1 = float(1.0 - std::pow(double(p.beta1), double(p.t)));
  const float bc2 = float(1.0 - std::pow(double(p.beta2), double(p.t)));
  adam_kernel<<<grid_for(n), kBlock, 0, st>>>(n, p.lr, p.beta1, p.beta2, p.eps, bc1, bc2, w, g, m, v);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------

void adadelta_update(size_t n, const AdadeltaParams& p, float* w, const float* g, float* accum_grad,
                     float* accum_delta) {
  launch::adadelta_update(current_stream(), n, p, w, g, accum_grad, accum_delta);
  DIGITS_CUDA_AFTER_OP("adadelta_update");
}

void sgd_update(size_t n, const SgdParams& p, float* w, const float* g, float* velocity) {
  launch::sgd_update(current_stream(), n, p, w, g, velocity);
  DIGITS_CUDA_AFTER_OP("sgd_update");
}

void adam_update(size_t n, const AdamParams& p, float* w, const float* g, float* m, float* v) {
  launch::adam_update(current_stream(), n, p, w, g, m, v);
  DIGITS_CUDA_AFTER_OP("adam_update");
}

}  // namespace digits::cuda
