// Launchers of the ReLU kernels on an explicit stream (the ops in cuda_ops.h use the current stream).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace digits::cuda::launch {
// y = max(x, 0); x and y may alias.
void relu_forward(cudaStream_t st, size_t n, const float* x, float* y);
// dx = dy where y > 0 else 0; dy and dx may alias.
void relu_backward(cudaStream_t st, size_t n, const float* y, const float* dy, float* dx);
}  // namespace digits::cuda::launch
