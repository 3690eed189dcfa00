// Pooling, our own kernels. Max pooling (cuDNN's returns no argmax; its backward rereads x and y):
// Forward: one thread per output. Backward: one thread per INPUT element, which checks whether its
// window's argmax points at it: windows do not overlap (stride = size), so every dx element is written
// exactly once, with no memset and no atomics. Global average pooling: a warp per (n, c) plane sums it
// in a fixed order (lanes, then a shuffle tree), so results repeat bit for bit; backward writes dy / HW.
#include "launch.cuh"
#include "maxpool.cuh"

namespace digits::cuda {

// ---- kernels ------------------------------------------------------------------------------------------

__global__ void maxpool_forward_kernel(uint32_t total, int H, int W, int P, int Q, int size, const float* __restrict__ x,
                                       float* __restrict__ y, int32_t* __restrict__ argmax) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int q = int(i % Q);
  const uint32_t t = i / Q;
  const int p = int(t % P);
  const uint32_t plane = t / P;  // n * C + c
  const float* xp = x + size_t(plane) * H * W;
  const int h0 = p * size, w0 = q * size;
  int best_at = h0 * W + w0;
  float best = xp[best_at];
  for (int r = 0; r < size; ++r) {
    for (int s = 0; s < size; ++s) {
      const int at = (h0 + r) * W + w0 + s;
      const float v = xp[at];
      if (v > best) {  // strict: the first max in row-major order wins ties
        best = v;
        best_at = at;
      }
    }
  }
  y[i] = best;
  argmax[i] = best_at;
}

__global__ void maxpool_backward_kernel(uint32_t total, int H, int W, int P, int Q, int size,
                                        const float* __restrict__ dy, const int32_t* __restrict__ argmax,
                                        float* __restrict__ dx) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int w = int(i % W);
  const uint32_t t = i / W;
  const int h = int(t % H);
  const uint32_t plane = t / H;
  const int p = h / size, q = w / size;
  float g = 0.0f;
  if (p < P && q < Q) {
    const size_t o = (size_t(plane) * P + p) * Q + q;
    if (argmax[o] == h * W + w) g = dy[o];
  }
  dx[i] = g;
}

__global__ void gap_forward_kernel(uint32_t planes, int HW, const float* __restrict__ x, float* __restrict__ y) {
  const uint32_t plane = (blockIdx.x * blockDim.x + threadIdx.x) / kWarp;
  const int lane = int(threadIdx.x % kWarp);
  if (plane >= planes) return;  // whole warps leave together: planes are warp-aligned
  const float* xp = x + size_t(plane) * HW;
  float acc = 0.f;
  for (int i = lane; i < HW; i += kWarp) acc += xp[i];
  for (int off = kWarp / 2; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (lane == 0) y[plane] = acc / float(HW);
}

__global__ void gap_backward_kernel(uint32_t total, int HW, const float* __restrict__ dy, float* __restrict__ dx) {
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total) return;
  dx[i] = dy[i / HW] / float(HW);
}

// ---- launchers ----------------------------------------------------------------------------------------

namespace launch {

void maxpool_forward(cudaStream_t st, const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  const size_t total = s.out_size();
  if (total == 0) return;
  DIGITS_CHECK(s.in_size() < (size_t(1) << 31) && s.size > 0, "maxpool_forward: tensor too large or bad window");
  maxpool_forward_kernel<<<blocks_for(total), kBlock, 0, st>>>(uint32_t(total), s.H, s.W, s.P(), s.Q(), s.size, x, y,
                                                               argmax);
  CUDA_CHECK(cudaGetLastError());
}

void maxpool_backward(cudaStream_t st, const PoolShape& s, const float* dy, const int32_t* argmax, float* dx) {
  const size_t total = s.in_size();
  if (total == 0) return;
  DIGITS_CHECK(total < (size_t(1) << 31) && s.size > 0, "maxpool_backward: tensor too large or bad window");
  maxpool_backward_kernel<<<blocks_for(total), kBlock, 0, st>>>(uint32_t(total), s.H, s.W, s.P(), s.Q(), s.size, dy,
                                                                argmax, dx);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------

void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  launch::maxpool_forward(current_stream(), s, x, y, argmax);
  DIGITS_CUDA_AFTER_OP("maxpool_forward");
}

void maxpool_backward(const PoolShape& s, const float* dy, const int32_t* argmax, float* dx) {
  launch::maxpool_backward(current_stream(), s, dy, argmax, dx);
  DIGITS_CUDA_AFTER_OP("maxpool_backward");
}

void gap_forward(int N, int C, int HW, const float* x, float* y) {
  const size_t planes = size_t(N) * C;
  if (planes == 0) return;
  DIGITS_CHECK(planes * HW < (size_t(1) << 31), "gap_forward: tensor too large");
  gap_forward_kernel<<<blocks_for(planes * kWarp), kBlock, 0, current_stream()>>>(uint32_t(planes), HW, x, y);
  CUDA_CHECK(cudaGetLastError());
  DIGITS_CUDA_AFTER_OP("gap_forward");
}

void gap_backward(int N, int C, int HW, const float* dy, float* dx) {
  const size_t total = size_t(N) * C * HW;
  if (total == 0) return;
  DIGITS_CHECK(total < (size_t(1) << 31), "gap_backward: tensor too large");
  gap_backward_kernel<<<blocks_for(total), kBlock, 0, current_stream()>>>(uint32_t(total), HW, dy, dx);
  CUDA_CHECK(cudaGetLastError());
  DIGITS_CUDA_AFTER_OP("gap_backward");
}

}  // namespace digits::cuda
