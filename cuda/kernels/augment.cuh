// Launcher of the augmentation kernel on an explicit stream (the op in cuda_ops.h uses the current one).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "shapes.h"

namespace digits::cuda::launch {
// x (n, H, W) = images[index[i]] resampled through the random affine + elastic map of augment_batch
// (host/ops.h) drawn from (seed, i), then * scale + shift; labels_out[i] = labels[index[i]].
// Arguments are not checked here (the op checks them).
void augment_batch(cudaStream_t st, int n, int H, int W, const uint8_t* images, const uint8_t* labels,
                   const int32_t* index, const AugmentParams& a, uint64_t seed, float scale, float shift, float* x,
                   int32_t* labels_out);
}  // namespace digits::cuda::launch
