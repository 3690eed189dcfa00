// Launchers of the max-pooling kernels on an explicit stream (the ops in cuda_ops.h use the current one).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "shapes.h"

namespace digits::cuda::launch {
// y, argmax (N,C,P,Q) from x (N,C,H,W); argmax = h*W+w of the first max in row-major order.
void maxpool_forward(cudaStream_t st, const PoolShape& s, const float* x, float* y, int32_t* argmax);
// dx (N,C,H,W) = dy routed to each argmax, zero elsewhere.
void maxpool_backward(cudaStream_t st, const PoolShape& s, const float* dy, const int32_t* argmax, float* dx);
}  // namespace digits::cuda::launch
