// Launchers of the direct convolution kernels on an explicit stream (cuda_variants.h: the *_direct ops).
#pragma once

#include <cuda_runtime.h>

#include "shapes.h"

namespace digits::cuda::launch {
void conv2d_forward_direct(cudaStream_t st, const ConvShape& s, const float* x, const float* w, float* y);
void conv2d_backward_data_direct(cudaStream_t st, const ConvShape& s, const float* dy, const float* w, float* dx);
void conv2d_backward_filter_direct(cudaStream_t st, const ConvShape& s, const float* x, const float* dy, float* dw);
}  // namespace digits::cuda::launch
