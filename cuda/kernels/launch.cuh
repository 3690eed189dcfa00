// What every kernel file shares: the block size, grid sizes for grid-stride loops (one wave of resident
// blocks, cached SM count per device) and warp/block reductions.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cuda_check.h"
#include "cuda_ops.h"

namespace digits::cuda {

// 256 threads: 8 warps, enough to hide latency in memory-bound elementwise kernels; 8 blocks fill an SM.
constexpr int kBlock = 256;
constexpr int kWarp = 32;

// Multiprocessors of the current device (queried once per device).
inline int multiprocessors() {
  static std::atomic<int> cache[64] = {};
  int d = 0;
  CUDA_CHECK(cudaGetDevice(&d));
  if (d >= 0 && d < 64) {
    if (const int n = cache[d].load(std::memory_order_relaxed)) return n;
  }
  int n = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, d));
  if (d >= 0 && d < 64) cache[d].store(n, std::memory_order_relaxed);
  return n;
}

// Blocks for a grid-stride loop over `work` items: one per `block` items, at most one resident wave
// (2048 threads per SM), at least 1.
inline unsigned grid_for(size_t work, int block = kBlock) {
  const size_t want = (work + block - 1) / block;
  const size_t wave = size_t(multiprocessors()) * (2048 / block);
  return unsigned(std::max<size_t>(1, std::min(want, wave)));
}

// Blocks for one thread per item (no grid-stride loop); work must fit the grid's x limit.
inline unsigned blocks_for(size_t work, int block = kBlock) { return unsigned((work + block - 1) / block); }

// ---- reductions -------------------------------------------------------------------------------------------

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); the result is valid in thread 0.
// Every thread of the block must call it; it may be called several times in a row.
template <class T>
__device__ __forceinline__ T block_sum(T v) {
  __shared__ T partial[1024 / kWarp];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // an earlier call may still be reading `partial`
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = threadIdx.x < blockDim.x / kWarp ? partial[threadIdx.x] : T(0);
  if (warp == 0) v = warp_sum(v);
  return v;
}

}  // namespace digits::cuda
