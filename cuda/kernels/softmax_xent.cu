// Fused softmax + cross-entropy (+ its gradient): one warp per row, so the row's max and sum are warp
// shuffles with no shared memory; K = 10 leaves lanes idle, but N rows x 10 is tiny anyway.
// accumulate_stats: one thread per row, a block sum in double, one double atomicAdd per block.
#include "launch.cuh"
#include "softmax_xent.cuh"

namespace digits::cuda {

// ---- kernels ------------------------------------------------------------------------------------------

constexpr int kRowsPerBlock = kBlock / kWarp;

__global__ void softmax_xent_kernel(int N, int K, const float* __restrict__ logits, const int32_t* __restrict__ labels,
                                    float* __restrict__ probs, float* __restrict__ loss, float* __restrict__ dlogits,
                                    float scale) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= N) return;  // whole warps leave together: the shuffles below see full warps
  const float* z = logits + size_t(row) * K;
  float m = -INFINITY;
  for (int k = lane; k < K; k += kWarp) m = fmaxf(m, z[k]);
  m = warp_max(m);
  float sum = 0.0f;
  for (int k = lane; k < K; k += kWarp) sum += expf(z[k] - m);
  sum = warp_sum(sum);
  const int label = labels[row];
  const bool valid = label >= 0 && label < K;
  float* p = probs + size_t(row) * K;
  float* d = dlogits ? dlogits + size_t(row) * K : nullptr;
  for (int k = lane; k < K; k += kWarp) {
    const float pk = expf(z[k] - m) / sum;
    p[k] = pk;
    if (d) d[k] = (k == label ? pk - 1.0f : pk) * scale;
  }
  // -log softmax(z)[label] = log(sum exp(z - m)) - (z[label] - m): no overflow, no log(0).
  if (lane == 0) loss[row] = valid ? logf(sum) - (z[label] - m) : __int_as_float(0x7fc00000);
}

__global__ void accumulate_stats_kernel(int N, int K, const float* __restrict__ probs, const int32_t* __restrict__ labels,
                                        const float* __restrict__ loss, double* __restrict__ stats) {
  const int row = blockIdx.x * blockDim.x + threadIdx.x;
  double l = 0, correct = 0;
  if (row < N) {
    const float* p = probs + size_t(row) * K;
    int best = 0;
    for (int k = 1; k < K; ++k)
      if (p[k] > p[best]) best = k;  // strict: the first max wins ties
    l = loss[row];
    correct = best == labels[row] ? 1.0 : 0.0;
  }
  l = block_sum(l);
  correct = block_sum(correct);
  if (threadIdx.x == 0) {
    atomicAdd(stats, l);
    atomicAdd(stats + 1, correct);
  }
}

// ---- launchers ----------------------------------------------------------------------------------------

namespace launch {

void softmax_xent(cudaStream_t st, int N, int K, const float* logits, const int32_t* labels, float* probs, float* loss,
                  float* dlogits, float scale) {
  if (N == 0 || K == 0) return;
  softmax_xent_kernel<<<blocks_for(size_t(N), kRowsPerBlock), kBlock, 0, st>>>(N, K, logits, labels, probs, loss,
                                                                               dlogits, scale);
  CUDA_CHECK(cudaGetLastError());
}

void accumulate_stats(cudaStream_t st, int N, int K, const float* probs, const int32_t* labels, const float* loss,
                      double* stats) {
  if (N == 0 || K == 0) return;
  accumulate_stats_kernel<<<blocks_for(size_t(N)), kBlock, 0, st>>>(N, K, probs, labels, loss, stats);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------

void softmax_xent(int N, int K, const float* logits, const int32_t* labels, float* probs, float* loss, float* dlogits,
                  float scale) {
  launch::softmax_xent(current_stream(), N, K, logits, labels, probs, loss, dlogits, scale);
  DIGITS_CUDA_AFTER_OP("softmax_xent");
}

void accumulate_stats(int N, int K, const float* probs, const int32_t* labels, const float* loss, double* stats) {
  launch::accumulate_stats(current_stream(), N, K, probs, labels, loss, stats);
  DIGITS_CUDA_AFTER_OP("accumulate_stats");
}

}  // namespace digits::cuda
