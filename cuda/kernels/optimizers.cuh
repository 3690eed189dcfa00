// Launchers of the fused optimizer updates on an explicit stream (the ops in cuda_ops.h use the current one).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "shapes.h"

namespace digits::cuda::launch {
void adadelta_update(cudaStream_t st, size_t n, const AdadeltaParams& p, float* w, const float* g, float* accum_grad,
                     float* accum_delta);
void sgd_update(cudaStream_t st, size_t n, const SgdParams& p, float* w, const float* g, float* velocity);
void adam_update(cudaStream_t st, size_t n, const AdamParams& p, float* w, const float* g, float* m, float* v);
}  // namespace digits::cuda::launch
