// Launchers of the loss kernels on an explicit stream (the ops in cuda_ops.h use the current stream).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace digits::cuda::launch {
// probs (N,K), loss (N), dlogits (N,K) or null: see softmax_xent in host/ops.h.
void softmax_xent(cudaStream_t st, int N, int K, const float* logits, const int32_t* labels, float* probs, float* loss,
                  float* dlogits, float scale);
// stats[0] += sum of loss, stats[1] += correct rows (2 doubles on the device).
void accumulate_stats(cudaStream_t st, int N, int K, const float* probs, const int32_t* labels, const float* loss,
                      double* stats);
}  // namespace digits::cuda::launch
