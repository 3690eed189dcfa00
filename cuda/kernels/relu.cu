// ReLU forward and backward: grid-stride, four floats per thread (16-byte loads) when every pointer is
// 16-byte aligned, else one. Inputs and outputs may alias, so no __restrict__.
#include "launch.cuh"
#include "relu.cuh"

namespace digits::cuda {

// ---- kernels ------------------------------------------------------------------------------------------

__device__ __forceinline__ float relu(float v) { return v > 0.0f ? v : 0.0f; }
__device__ __forceinline__ float relu_grad(float y, float dy) { return y > 0.0f ? dy : 0.0f; }

__global__ void relu_forward_kernel(size_t n, const float* x, float* y) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = relu(x[i]);
}

// n4 float4s, then the n % 4 tail elements one per thread.
__global__ void relu_forward4_kernel(size_t n4, size_t n, const float4* x, float4* y) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  const size_t first = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (size_t i = first; i < n4; i += stride) {
    const float4 v = x[i];
    y[i] = make_float4(relu(v.x), relu(v.y), relu(v.z), relu(v.w));
  }
  const size_t tail = 4 * n4 + first;
  if (tail < n) reinterpret_cast<float*>(y)[tail] = relu(reinterpret_cast<const float*>(x)[tail]);
}

__global__ void relu_backward_kernel(size_t n, const float* y, const float* dy, float* dx) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) dx[i] = relu_grad(y[i], dy[i]);
}

__global__ void relu_backward4_kernel(size_t n4, size_t n, const float4* y, const float4* dy, float4* dx) {
  const size_t stride = size_t(gridDim.x) * blockDim.x;
  const size_t first = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (size_t i = first; i < n4; i += stride) {
    const float4 a = y[i], g = dy[i];
    dx[i] = make_float4(relu_grad(a.x, g.x), relu_grad(a.y, g.y), relu_grad(a.z, g.z), relu_grad(a.w, g.w));
  }
  const size_t tail = 4 * n4 + first;
  if (tail < n)
    reinterpret_cast<float*>(dx)[tail] =
        relu_grad(reinterpret_cast<const float*>(y)[tail], reinterpret_cast<const float*>(dy)[tail]);
}

// ---- launchers ----------------------------------------------------------------------------------------

namespace {
bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }
}  // namespace

namespace launch {

void relu_forward(cudaStream_t st, size_t n, const float* x, float* y) {
  if (n == 0) return;
  if (aligned16(x) && aligned16(y))
    relu_forward4_kernel<<<grid_for(n / 4 + 1), kBlock, 0, st>>>(n / 4, n, reinterpret_cast<const float4*>(x),
                                                                 reinterpret_cast<float4*>(y));
  else
    relu_forward_kernel<<<grid_for(n), kBlock, 0, st>>>(n, x, y);
  CUDA_CHECK(cudaGetLastError());
}

void relu_backward(cudaStream_t st, size_t n, const float* y, const float* dy, float* dx) {
  if (n == 0) return;
  if (aligned16(y) && aligned16(dy) && aligned16(dx))
    relu_backward4_kernel<<<grid_for(n / 4 + 1), kBlock, 0, st>>>(n / 4, n, reinterpret_cast<const float4*>(y),
                                                                  reinterpret_cast<const float4*>(dy),
                                                                  reinterpret_cast<float4*>(dx));
  else
    relu_backward_kernel<<<grid_for(n), kBlock, 0, st>>>(n, y, dy, dx);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------

void relu_forward(size_t n, const float* x, float* y) {
  launch::relu_forward(current_stream(), n, x, y);
  DIGITS_CUDA_AFTER_OP("relu_forward");
}

void relu_backward(size_t n, const float* y, const float* dy, float* dx) {
  launch::relu_backward(current_stream(), n, y, dy, dx);
  DIGITS_CUDA_AFTER_OP("relu_backward");
}

}  // namespace digits::cuda
