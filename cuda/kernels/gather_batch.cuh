// Launcher of the batch-gathering kernel on an explicit stream (the op in cuda_ops.h uses the current one).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace digits::cuda::launch {
// x (n, pixels) = images[index[i]] * scale + shift; labels_out[i] = labels[index[i]].
void gather_batch(cudaStream_t st, int n, int pixels, const uint8_t* images, const uint8_t* labels,
                  const int32_t* index, float scale, float shift, float* x, int32_t* labels_out);
}  // namespace digits::cuda::launch
