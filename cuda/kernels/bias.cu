// Bias: forward adds b[c] to every element of channel c; backward sums dy over batch and positions.
// Backward is deterministic (no atomics): one block per channel, or one thread per channel for dense
// layers (HW = 1), where rows are short and a thread walking down a column reads coalesced.
#include "bias.cuh"
#include "launch.cuh"

namespace digits::cuda {

// ---- kernels ------------------------------------------------------------------------------------------

template <class Index>
__global__ void bias_forward_kernel(Index total, Index C, Index HW, const float* __restrict__ b, float* __restrict__ y) {
  const Index stride = Index(gridDim.x) * blockDim.x;
  for (Index i = Index(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) y[i] += b[(i / HW) % C];
}

// Dense layers: thread c sums column c of dy (N, C). Accumulates in double: sums of up to ~10^5 terms.
__global__ void bias_backward_rows_kernel(int N, int C, const float* __restrict__ dy, float* __restrict__ db) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  double acc = 0;
  for (int n = 0; n < N; ++n) acc += dy[size_t(n) * C + c];
  db[c] = float(acc);
}

// Convolutions: block c sums plane c of every image of dy (N, C, HW).
__global__ void bias_backward_planes_kernel(int N, int C, int HW, const float* __restrict__ dy, float* __restrict__ db) {
  const int c = blockIdx.x;
  double acc = 0;
  for (int n = 0; n < N; ++n) {
    const float* plane = dy + (size_t(n) * C + c) * HW;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) acc += plane[i];
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) db[c] = float(acc);
}

// ---- launchers ----------------------------------------------------------------------------------------

namespace launch {

void bias_forward(cudaStream_t st, int N, int C, int HW, const float* b, float* y) {
  const size_t total = size_t(N) * C * HW;
  if (total == 0) return;
  // 32-bit index arithmetic (the modulo dominates) whenever the tensor allows it.
  if (total <= 0xffffffffu)
    bias_forward_kernel<uint32_t><<<grid_for(total), kBlock, 0, st>>>(uint32_t(total), C, HW, b, y);
  else
    bias_forward_kernel<size_t><<<grid_for(total), kBlock, 0, st>>>(total, C, HW, b, y);
  CUDA_CHECK(cudaGetLastError());
}

void bias_backward(cudaStream_t st, int N, int C, int HW, const float* dy, float* db) {
  if (C == 0) return;
  if (HW == 1)
    bias_backward_rows_kernel<<<blocks_for(size_t(C), 128), 128, 0, st>>>(N, C, dy, db);
  else
    bias_backward_planes_kernel<<<C, kBlock, 0, st>>>(N, C, HW, dy, db);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------

void bias_forward(int N, int C, int HW, const float* b, float* y) {
  launch::bias_forward(current_stream(), N, C, HW, b, y);
  DIGITS_CUDA_AFTER_OP("bias_forward");
}

void bias_backward(int N, int C, int HW, const float* dy, float* db) {
  launch::bias_backward(current_stream(), N, C, HW, dy, db);
  DIGITS_CUDA_AFTER_OP("bias_backward");
}

}  // namespace digits::cuda
