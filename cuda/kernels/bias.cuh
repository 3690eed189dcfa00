// Launchers of the bias kernels on an explicit stream (the ops in cuda_ops.h use the current stream).
#pragma once

#include <cuda_runtime.h>

namespace digits::cuda::launch {
// y (N,C,HW) += b (C)
void bias_forward(cudaStream_t st, int N, int C, int HW, const float* b, float* y);
// db (C) = sum over N and HW of dy (N,C,HW)
void bias_backward(cudaStream_t st, int N, int C, int HW, const float* dy, float* db);
}  // namespace digits::cuda::launch
