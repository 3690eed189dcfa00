// Launcher of the fill kernel on an explicit stream (cuda::fill in cuda_ops.h uses the current stream).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace digits::cuda::launch {
// p[0, n) = value
void fill(cudaStream_t st, float* p, size_t n, float value);
}  // namespace digits::cuda::launch
