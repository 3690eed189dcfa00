// Direct convolutions, our own and deliberately simple: the yardstick cuDNN is benchmarked against
// (BM_Conv2d*_CudaKernel) and a second opinion in tests. Forward and backward-data: one thread per output
// element. Backward-filter: one block per weight, the batch and positions summed by the block (a weight
// sums N*P*Q products: 73k for the seed network's first layer, too many for one thread).
#include "conv_naive.cuh"
#include "cuda_variants.h"
#include "launch.cuh"

namespace digits::cuda {

// ---- kernels ------------------------------------------------------------------------------------------

namespace {
// ConvShape's P() and Q() are host functions: the kernels get the sizes precomputed.
struct ConvDims {
  int N, C, H, W, K, R, S, pad, P, Q;
};

ConvDims dims(const ConvShape& s) { return ConvDims{s.N, s.C, s.H, s.W, s.K, s.R, s.S, s.pad, s.P(), s.Q()}; }
}  // namespace

// y (N,K,P,Q) = sum over c, r, s of x (N,C,H,W) [p + r - pad, q + s - pad] * w (K,C,R,S)
__global__ void conv2d_forward_direct_kernel(ConvDims s, const float* __restrict__ x, const float* __restrict__ w,
                                             float* __restrict__ y) {
  const int P = s.P, Q = s.Q;
  const size_t total = size_t(s.N) * s.K * P * Q;
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int q = int(i % Q), p = int(i / Q % P), k = int(i / (size_t(P) * Q) % s.K), n = int(i / (size_t(P) * Q * s.K));
  float acc = 0.0f;
  for (int c = 0; c < s.C; ++c) {
    const float* xp = x + (size_t(n) * s.C + c) * s.H * s.W;
    const float* wp = w + (size_t(k) * s.C + c) * s.R * s.S;
    for (int r = 0; r < s.R; ++r) {
      const int h = p + r - s.pad;
      if (h < 0 || h >= s.H) continue;
      for (int t = 0; t < s.S; ++t) {
        const int v = q + t - s.pad;
        if (v >= 0 && v < s.W) acc += xp[h * s.W + v] * wp[r * s.S + t];
      }
    }
  }
  y[i] = acc;
}

// dx (N,C,H,W) [h, v] = sum over k, r, t of dy (N,K,P,Q) [h + pad - r, v + pad - t] * w (K,C,R,S) [r, t]
__global__ void conv2d_backward_data_direct_kernel(ConvDims s, const float* __restrict__ dy,
                                                   const float* __restrict__ w, float* __restrict__ dx) {
  const int P = s.P, Q = s.Q;
  const size_t total = size_t(s.N) * s.C * s.H * s.W;
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int v = int(i % s.W), h = int(i / s.W % s.H), c = int(i / (size_t(s.H) * s.W) % s.C),
            n = int(i / (size_t(s.H) * s.W * s.C));
  float acc = 0.0f;
  for (int k = 0; k < s.K; ++k) {
    const float* dyp = dy + (size_t(n) * s.K + k) * P * Q;
    const float* wp = w + (size_t(k) * s.C + c) * s.R * s.S;
    for (int r = 0; r < s.R; ++r) {
      const int p = h + s.pad - r;
      if (p < 0 || p >= P) continue;
      for (int t = 0; t < s.S; ++t) {
        const int q = v + s.pad - t;
        if (q >= 0 && q < Q) acc += dyp[p * Q + q] * wp[r * s.S + t];
      }
    }
  }
  dx[i] = acc;
}

// dw (K,C,R,S) [k, c, r, t] = sum over n, p, q of x [n, c, p + r - pad, q + t - pad] * dy [n, k, p, q]
__global__ void conv2d_backward_filter_direct_kernel(ConvDims s, const float* __restrict__ x,
                                                     const float* __restrict__ dy, float* __restrict__ dw) {
  const int P = s.P, Q = s.Q;
  const int i = blockIdx.x;  // one block per weight
  const int t = i % s.S, r = i / s.S % s.R, c = i / (s.S * s.R) % s.C, k = i / (s.S * s.R * s.C);
  const int PQ = P * Q;
  float acc = 0.0f;
  for (int n = 0; n < s.N; ++n) {
    const float* xp = x + (size_t(n) * s.C + c) * s.H * s.W;
    const float* dyp = dy + (size_t(n) * s.K + k) * PQ;
    for (int j = threadIdx.x; j < PQ; j += blockDim.x) {
      const int p = j / Q, q = j % Q;
      const int h = p + r - s.pad, v = q + t - s.pad;
      if (h >= 0 && h < s.H && v >= 0 && v < s.W) acc += xp[h * s.W + v] * dyp[j];
    }
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) dw[i] = acc;
}

// ---- launchers ----------------------------------------------------------------------------------------

namespace launch {

void conv2d_forward_direct(cudaStream_t st, const ConvShape& s, const float* x, const float* w, float* y) {
  const size_t total = s.out_size();
  if (total == 0) return;
  conv2d_forward_direct_kernel<<<blocks_for(total), kBlock, 0, st>>>(dims(s), x, w, y);
  CUDA_CHECK(cudaGetLastError());
}

void conv2d_backward_data_direct(cudaStream_t st, const ConvShape& s, const float* dy, const float* w, float* dx) {
  const size_t total = s.in_size();
  if (total == 0) return;
  conv2d_backward_data_direct_kernel<<<blocks_for(total), kBlock, 0, st>>>(dims(s), dy, w, dx);
  CUDA_CHECK(cudaGetLastError());
}

void conv2d_backward_filter_direct(cudaStream_t st, const ConvShape& s, const float* x, const float* dy, float* dw) {
  const size_t total = s.weight_size();
  if (total == 0) return;
  conv2d_backward_filter_direct_kernel<<<unsigned(total), kBlock, 0, st>>>(dims(s), x, dy, dw);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------

void conv2d_forward_direct(const ConvShape& s, const float* x, const float* w, float* y) {
  launch::conv2d_forward_direct(current_stream(), s, x, w, y);
  DIGITS_CUDA_AFTER_OP("conv2d_forward_direct");
}

void conv2d_backward_data_direct(const ConvShape& s, const float* dy, const float* w, float* dx) {
  launch::conv2d_backward_data_direct(current_stream(), s, dy, w, dx);
  DIGITS_CUDA_AFTER_OP("conv2d_backward_data_direct");
}

void conv2d_backward_filter_direct(const ConvShape& s, const float* x, const float* dy, float* dw) {
  launch::conv2d_backward_filter_direct(current_stream(), s, x, dy, dw);
  DIGITS_CUDA_AFTER_OP("conv2d_backward_filter_direct");
}

}  // namespace digits::cuda
