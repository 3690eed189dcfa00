// Launcher of the dropout kernel on an explicit stream (the ops in cuda_ops.h use the current stream).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace digits::cuda::launch {
// y[i] = x[i] / (1 - rate) if philox_uniform(seed, i) >= rate else 0; x and y may alias. Forward and
// backward are the same function of (x or dy).
void dropout(cudaStream_t st, size_t n, float rate, uint64_t seed, const float* x, float* y);
}  // namespace digits::cuda::launch
