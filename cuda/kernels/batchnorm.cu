// Batch normalization over x (N, C, HW), deterministic (no atomics). Training forward and backward are three
// kernels each: partial sums per (channel, slice of the batch) in double, a per-channel finalize that adds the
// slices in a fixed order, then an element-wise pass; inference is the element-wise pass alone. The slicing
// depends on the shape only (not on the GPU's size), so results are bit-identical from run to run.
// Two layouts: "planes" (HW > 1, or few channels): a block is one channel x a run of whole planes, float4
// when HW % 4 == 0; "rows" (HW == 1 after a dense layer, C >= 8): a block is 32 neighbouring channels x rows,
// so that each warp reads 128 contiguous bytes of a row instead of striding by C.
#include <algorithm>
#include <cmath>

#include "batchnorm.cuh"
#include "cudnn_context.h"
#include "launch.cuh"

namespace digits::cuda {

namespace {

// ---- plan ---------------------------------------------------------------------------------------------

// Slices per channel: enough blocks to fill the GPU at the networks' shapes (C = 32, N*HW = 128*784: 13
// slices, 416 blocks), at most kMaxSlices so that the finalize's work and the workspace stay small.
constexpr int kMaxSlices = 256;
constexpr long long kSliceElems = 8192;  // planes layout: about this many values per block (32 per thread)
constexpr long long kSliceRows = 64;     // rows layout: rows per block (8 per thread)
constexpr int kRowsX = 32, kRowsY = 8;   // rows layout block: 32 channels x 8 rows
constexpr int kRowsMinC = 8;             // below this, rows would leave most lanes idle: use planes
constexpr int kFinalizeWarps = 8;        // finalize: one warp per channel, 8 per block

struct Plan {
  bool rows;   // rows layout (HW == 1)
  int slices;  // S: the batch's N planes (or rows) split into S nearly equal runs
};

long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }

Plan plan_for(int N, int C, int HW) {
  if (HW == 1 && C >= kRowsMinC) return {true, int(std::min<long long>(ceil_div(N, kSliceRows), kMaxSlices))};
  const long long s = std::min<long long>({ceil_div((long long)N * HW, kSliceElems), N, kMaxSlices});
  return {false, int(std::max<long long>(s, 1))};
}

// Per-channel coefficients of the element-wise pass (all in double: see apply()).
//   forward:  y  = (x - mean) scale + shift                     scale = gamma inv_std, shift = beta
//   backward: dx = scale (dy - shift - (x - mean) slope)        scale = gamma inv_std, shift = sum dy / M,
//                                                               slope = inv_std dgamma / M
struct alignas(16) BnCoeff {
  double mean, scale, shift, slope;
};

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

void check_shape(int N, int C, int HW, float eps) {
  DIGITS_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm: bad shape N=" << N << " C=" << C << " HW=" << HW);
  DIGITS_CHECK(eps > 0.f && std::isfinite(eps), "batchnorm: eps " << eps << " must be positive");
}

// ---- device helpers -----------------------------------------------------------------------------------

template <class V>
constexpr int kLanes = 1;
template <>
constexpr int kLanes<float4> = 4;

__device__ __forceinline__ float lane(float v, int) { return v; }
__device__ __forceinline__ float lane(const float4& v, int k) {
  return k == 0 ? v.x : k == 1 ? v.y : k == 2 ? v.z : v.w;
}
__device__ __forceinline__ void set_lane(float& v, int, float f) { v = f; }
__device__ __forceinline__ void set_lane(float4& v, int k, float f) {
  if (k == 0) v.x = f;
  else if (k == 1) v.y = f;
  else if (k == 2) v.z = f;
  else v.w = f;
}

// First plane (or row) of slice s of S over N.
__device__ __forceinline__ int slice_begin(int N, int S, int s) { return int((long long)s * N / S); }

// Calls f(off) for every offset (in units of V) of channel c's values in planes [n0, n1) of x (N, C, HWv),
// the block's threads taking consecutive values. Carries (plane, position) from step to step instead of
// dividing per value.
template <class F>
__device__ __forceinline__ void for_planes(int C, int HWv, int c, int n0, int n1, F&& f) {
  const long long count = (long long)(n1 - n0) * HWv;
  const int T = blockDim.x, t = threadIdx.x;
  const int dr = T % HWv;
  const size_t jump = size_t(T / HWv) * C * HWv + dr, wrap = size_t(C - 1) * HWv;
  int i = t % HWv;
  size_t off = (size_t(n0 + t / HWv) * C + c) * HWv + i;
  for (long long j = t; j < count; j += T) {
    f(off);
    i += dr;
    off += jump;
    if (i >= HWv) {  // into the next plane: skip the other channels
      i -= HWv;
      off += wrap;
    }
  }
}

// Forward: a += d, b += d^2 with d = x - pivot (shifted sums: no cancellation when |mean| >> std).
// Backward: a += dy, b += dy (x - mean). Double: sums of up to ~10^6 terms, exact squares of floats.
template <bool kBackward>
__device__ __forceinline__ void accumulate(float x, float g, double ref, double& a, double& b) {
  const double d = double(x) - ref;
  if constexpr (kBackward) {
    a += double(g);
    b = fma(double(g), d, b);
  } else {
    a += d;
    b = fma(d, d, b);
  }
}

enum class Pass { Train, Infer, Backward };

struct ApplyArgs {
  const float* x;        // (N, C, HW)
  const float* dy;       // (N, C, HW), Backward only
  float* out;            // (N, C, HW): y or dx; may alias x (or dy)
  const BnCoeff* coeff;  // (C), Train and Backward
  const float* gamma;    // (C), Infer
  const float* beta;
  const float* running_mean;
  const float* running_var;
  float eps;
};

template <Pass P>
__device__ __forceinline__ BnCoeff coeff_of(const ApplyArgs& a, int c) {
  if constexpr (P == Pass::Infer) {
    const double inv_std = 1.0 / sqrt(double(a.running_var[c]) + double(a.eps));
    return BnCoeff{double(a.running_mean[c]), double(a.gamma[c]) * inv_std, double(a.beta[c]), 0.0};
  } else {
    return a.coeff[c];
  }
}

// In double: x - mean cancels when |mean| >> std, and the float result is then within one rounding of
// the double reference. FP64 runs at half rate on sm_90: this memory-bound pass does not notice.
template <Pass P>
__device__ __forceinline__ float apply(const BnCoeff& k, float x, float dy) {
  const double d = double(x) - k.mean;
  if constexpr (P == Pass::Backward)
    return float(k.scale * (double(dy) - k.shift - d * k.slope));
  else
    return float(fma(d, k.scale, k.shift));
}

// Sums of channel c's S slice partials (stored (S, C)), in the same order every time: lane-strided, then a
// fixed butterfly. Every lane of the warp gets the same bits.
__device__ __forceinline__ double2 sum_slices(const double2* partials, int C, int S, int c) {
  double a = 0, b = 0;
  for (int s = threadIdx.x % kWarp; s < S; s += kWarp) {
    const double2 p = partials[size_t(s) * C + c];
    a += p.x;
    b += p.y;
  }
  return make_double2(warp_sum(a), warp_sum(b));
}

// ---- kernels: partial sums ------------------------------------------------------------------------------

// Block (c, s): channel c over slice s of the planes. partials (S, C) of double2 (a, b) as in accumulate().
template <class V, bool kBackward>
__global__ void __launch_bounds__(kBlock)
    bn_partials_planes_kernel(int N, int C, int HW, int S, const V* __restrict__ x, const V* __restrict__ dy,
                              const float* __restrict__ mean, double2* __restrict__ partials) {
  const int c = blockIdx.x, s = blockIdx.y;
  double ref;
  if constexpr (kBackward)
    ref = double(mean[c]);
  else
    ref = double(reinterpret_cast<const float*>(x)[size_t(c) * HW]);  // pivot: x[0, c, 0]
  double a = 0, b = 0;
  for_planes(C, HW / kLanes<V>, c, slice_begin(N, S, s), slice_begin(N, S, s + 1), [&](size_t off) {
    const V xv = x[off];
    V gv{};
    if constexpr (kBackward) gv = dy[off];
#pragma unroll
    for (int k = 0; k < kLanes<V>; ++k) accumulate<kBackward>(lane(xv, k), lane(gv, k), ref, a, b);
  });
  a = block_sum(a);
  b = block_sum(b);
  if (threadIdx.x == 0) partials[size_t(s) * C + c] = make_double2(a, b);
}

// Block (g, s): channels 32 g .. 32 g + 31 over rows of slice s of x (N, C); thread (tx, ty) takes channel
// 32 g + tx and every 8th row; the 8 row-partials are then added in order.
template <bool kBackward>
__global__ void __launch_bounds__(kRowsX * kRowsY)
    bn_partials_rows_kernel(int N, int C, int S, const float* __restrict__ x, const float* __restrict__ dy,
                            const float* __restrict__ mean, double2* __restrict__ partials) {
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int c = blockIdx.x * kRowsX + tx, s = blockIdx.y;
  double a = 0, b = 0;
  if (c < C) {
    const double ref = kBackward ? double(mean[c]) : double(x[c]);  // forward pivot: x[0, c]
    const int n1 = slice_begin(N, S, s + 1);
#pragma unroll 4
    for (int n = slice_begin(N, S, s) + ty; n < n1; n += kRowsY) {
      const size_t off = size_t(n) * C + c;
      float g = 0.f;
      if constexpr (kBackward) g = dy[off];
      accumulate<kBackward>(x[off], g, ref, a, b);
    }
  }
  __shared__ double sa[kRowsY][kRowsX], sb[kRowsY][kRowsX];
  sa[ty][tx] = a;
  sb[ty][tx] = b;
  __syncthreads();
  if (ty == 0 && c < C) {
    for (int r = 1; r < kRowsY; ++r) {
      a += sa[r][tx];
      b += sb[r][tx];
    }
    partials[size_t(s) * C + c] = make_double2(a, b);
  }
}

// ---- kernels: finalize (one warp per channel) -------------------------------------------------------------

__global__ void bn_finalize_forward_kernel(int C, int HW, int S, double M, float eps, float momentum,
                                           const float* __restrict__ x, const float* __restrict__ gamma,
                                           const float* __restrict__ beta, const double2* __restrict__ partials,
                                           BnCoeff* __restrict__ coeff, float* __restrict__ batch_mean,
                                           float* __restrict__ batch_inv_std, float* __restrict__ running_mean,
                                           float* __restrict__ running_var) {
  const int c = blockIdx.x * kFinalizeWarps + threadIdx.x / kWarp;
  if (c >= C) return;  // whole warps leave together
  const double2 sums = sum_slices(partials, C, S, c);
  if (threadIdx.x % kWarp != 0) return;
  const double d = sums.x / M;                        // mean of x - pivot
  const double var = fmax(sums.y / M - d * d, 0.0);  // biased
  const double mean = double(x[size_t(c) * HW]) + d;
  const double inv_std = 1.0 / sqrt(var + double(eps));
  batch_mean[c] = float(mean);
  batch_inv_std[c] = float(inv_std);
  const double mom = momentum, unbiased = M > 1 ? var * M / (M - 1) : var;
  running_mean[c] = float((1.0 - mom) * double(running_mean[c]) + mom * mean);
  running_var[c] = float((1.0 - mom) * double(running_var[c]) + mom * unbiased);
  coeff[c] = BnCoeff{mean, double(gamma[c]) * inv_std, double(beta[c]), 0.0};
}

__global__ void bn_finalize_backward_kernel(int C, int S, double M, const float* __restrict__ gamma,
                                            const float* __restrict__ batch_mean,
                                            const float* __restrict__ batch_inv_std,
                                            const double2* __restrict__ partials, BnCoeff* __restrict__ coeff,
                                            float* __restrict__ dgamma, float* __restrict__ dbeta) {
  const int c = blockIdx.x * kFinalizeWarps + threadIdx.x / kWarp;
  if (c >= C) return;
  const double2 sums = sum_slices(partials, C, S, c);
  if (threadIdx.x % kWarp != 0) return;
  const double inv_std = batch_inv_std[c];
  const double sdy = sums.x, sdyx = sums.y * inv_std;  // sum dy, sum dy xhat
  dbeta[c] = float(sdy);
  dgamma[c] = float(sdyx);
  coeff[c] = BnCoeff{double(batch_mean[c]), double(gamma[c]) * inv_std, sdy / M, inv_std * sdyx / M};
}

// ---- kernels: element-wise pass -------------------------------------------------------------------------
// No __restrict__: out may alias x (or dy); each value is read and then written by the same thread.

template <class V, Pass P>
__global__ void __launch_bounds__(kBlock) bn_apply_planes_kernel(int N, int C, int HW, int S, ApplyArgs a) {
  const int c = blockIdx.x, s = blockIdx.y;
  const BnCoeff co = coeff_of<P>(a, c);
  const V* x = reinterpret_cast<const V*>(a.x);
  const V* dy = reinterpret_cast<const V*>(a.dy);
  V* out = reinterpret_cast<V*>(a.out);
  for_planes(C, HW / kLanes<V>, c, slice_begin(N, S, s), slice_begin(N, S, s + 1), [&](size_t off) {
    const V xv = x[off];
    V gv{};
    if constexpr (P == Pass::Backward) gv = dy[off];
    V r;
#pragma unroll
    for (int k = 0; k < kLanes<V>; ++k) set_lane(r, k, apply<P>(co, lane(xv, k), lane(gv, k)));
    out[off] = r;
  });
}

template <Pass P>
__global__ void __launch_bounds__(kRowsX * kRowsY) bn_apply_rows_kernel(int N, int C, int S, ApplyArgs a) {
  const int c = blockIdx.x * kRowsX + threadIdx.x, s = blockIdx.y;
  if (c >= C) return;
  const BnCoeff co = coeff_of<P>(a, c);
  const int n1 = slice_begin(N, S, s + 1);
#pragma unroll 4
  for (int n = slice_begin(N, S, s) + int(threadIdx.y); n < n1; n += kRowsY) {
    const size_t off = size_t(n) * C + c;
    float g = 0.f;
    if constexpr (P == Pass::Backward) g = a.dy[off];
    a.out[off] = apply<P>(co, a.x[off], g);
  }
}

// ---- launch helpers -------------------------------------------------------------------------------------

template <bool kBackward>
void launch_partials(cudaStream_t st, int N, int C, int HW, const Plan& p, const float* x, const float* dy,
                     const float* mean, double2* partials) {
  const int S = p.slices;
  if (p.rows) {
    const dim3 grid(unsigned(ceil_div(C, kRowsX)), unsigned(S)), block(kRowsX, kRowsY);
    bn_partials_rows_kernel<kBackward><<<grid, block, 0, st>>>(N, C, S, x, dy, mean, partials);
  } else if (HW % 4 == 0 && aligned16(x) && (!kBackward || aligned16(dy))) {
    bn_partials_planes_kernel<float4, kBackward><<<dim3(unsigned(C), unsigned(S)), kBlock, 0, st>>>(
        N, C, HW, S, reinterpret_cast<const float4*>(x), reinterpret_cast<const float4*>(dy), mean, partials);
  } else {
    bn_partials_planes_kernel<float, kBackward><<<dim3(unsigned(C), unsigned(S)), kBlock, 0, st>>>(N, C, HW, S, x, dy,
                                                                                                    mean, partials);
  }
}

template <Pass P>
void launch_apply(cudaStream_t st, int N, int C, int HW, const Plan& p, const ApplyArgs& a) {
  const int S = p.slices;
  if (p.rows) {
    const dim3 grid(unsigned(ceil_div(C, kRowsX)), unsigned(S)), block(kRowsX, kRowsY);
    bn_apply_rows_kernel<P><<<grid, block, 0, st>>>(N, C, S, a);
  } else if (HW % 4 == 0 && aligned16(a.x) && aligned16(a.out) && (P != Pass::Backward || aligned16(a.dy))) {
    bn_apply_planes_kernel<float4, P><<<dim3(unsigned(C), unsigned(S)), kBlock, 0, st>>>(N, C, HW, S, a);
  } else {
    bn_apply_planes_kernel<float, P><<<dim3(unsigned(C), unsigned(S)), kBlock, 0, st>>>(N, C, HW, S, a);
  }
}

// The workspace: partials (S, C) of double2, then coeff (C).
struct Workspace {
  double2* partials;
  BnCoeff* coeff;
};
Workspace carve(void* ws, const Plan& p, int C) {
  DIGITS_CHECK(ws != nullptr && aligned16(ws), "batchnorm: workspace missing or not 16-byte aligned");
  auto* partials = static_cast<double2*>(ws);
  return {partials, reinterpret_cast<BnCoeff*>(partials + size_t(p.slices) * C)};
}

}  // namespace

// ---- launchers ----------------------------------------------------------------------------------------

namespace launch {

size_t batchnorm_workspace_bytes(int N, int C, int HW) {
  check_shape(N, C, HW, 1.f);
  const Plan p = plan_for(N, C, HW);
  return size_t(p.slices) * C * sizeof(double2) + size_t(C) * sizeof(BnCoeff);
}

void batchnorm_forward_train(cudaStream_t st, int N, int C, int HW, float eps, float momentum, const float* x,
                             const float* gamma, const float* beta, float* y, float* batch_mean, float* batch_inv_std,
                             float* running_mean, float* running_var, void* workspace) {
  check_shape(N, C, HW, eps);
  DIGITS_CHECK(momentum >= 0.f && momentum <= 1.f, "batchnorm: momentum " << momentum << " outside [0, 1]");
  const Plan p = plan_for(N, C, HW);
  const Workspace w = carve(workspace, p, C);
  const double M = double(N) * HW;
  launch_partials<false>(st, N, C, HW, p, x, nullptr, nullptr, w.partials);
  bn_finalize_forward_kernel<<<blocks_for(size_t(C), kFinalizeWarps), kFinalizeWarps * kWarp, 0, st>>>(
      C, HW, p.slices, M, eps, momentum, x, gamma, beta, w.partials, w.coeff, batch_mean, batch_inv_std,
      running_mean, running_var);
  launch_apply<Pass::Train>(st, N, C, HW, p,
                            ApplyArgs{x, nullptr, y, w.coeff, nullptr, nullptr, nullptr, nullptr, eps});
  CUDA_CHECK(cudaGetLastError());
}

void batchnorm_forward_infer(cudaStream_t st, int N, int C, int HW, float eps, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var, float* y) {
  check_shape(N, C, HW, eps);
  const Plan p = plan_for(N, C, HW);
  launch_apply<Pass::Infer>(st, N, C, HW, p,
                            ApplyArgs{x, nullptr, y, nullptr, gamma, beta, running_mean, running_var, eps});
  CUDA_CHECK(cudaGetLastError());
}

void batchnorm_backward(cudaStream_t st, int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                        const float* batch_mean, const float* batch_inv_std, float* dx, float* dgamma, float* dbeta,
                        void* workspace) {
  check_shape(N, C, HW, 1.f);
  const Plan p = plan_for(N, C, HW);
  const Workspace w = carve(workspace, p, C);
  const double M = double(N) * HW;
  launch_partials<true>(st, N, C, HW, p, x, dy, batch_mean, w.partials);
  bn_finalize_backward_kernel<<<blocks_for(size_t(C), kFinalizeWarps), kFinalizeWarps * kWarp, 0, st>>>(
      C, p.slices, M, gamma, batch_mean, batch_inv_std, w.partials, w.coeff, dgamma, dbeta);
  launch_apply<Pass::Backward>(st, N, C, HW, p,
                               ApplyArgs{x, dy, dx, w.coeff, nullptr, nullptr, nullptr, nullptr, 0.f});
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------
// The scratch is this thread's CudaContext workspace (shared with cuDNN, stream-ordered on the current
// stream); it grows at most once per new shape.

void batchnorm_forward_train(int N, int C, int HW, float eps, float momentum, const float* x, const float* gamma,
                             const float* beta, float* y, float* batch_mean, float* batch_inv_std, float* running_mean,
                             float* running_var) {
  const size_t bytes = launch::batchnorm_workspace_bytes(N, C, HW);  // checks the shape before any CUDA call
  void* ws = CudaContext::current().workspace(bytes);
  launch::batchnorm_forward_train(current_stream(), N, C, HW, eps, momentum, x, gamma, beta, y, batch_mean,
                                  batch_inv_std, running_mean, running_var, ws);
  DIGITS_CUDA_AFTER_OP("batchnorm_forward_train");
}

void batchnorm_forward_infer(int N, int C, int HW, float eps, const float* x, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, float* y) {
  launch::batchnorm_forward_infer(current_stream(), N, C, HW, eps, x, gamma, beta, running_mean, running_var, y);
  DIGITS_CUDA_AFTER_OP("batchnorm_forward_infer");
}

void batchnorm_backward(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                        const float* batch_mean, const float* batch_inv_std, float* dx, float* dgamma, float* dbeta) {
  const size_t bytes = launch::batchnorm_workspace_bytes(N, C, HW);
  void* ws = CudaContext::current().workspace(bytes);
  launch::batchnorm_backward(current_stream(), N, C, HW, x, dy, gamma, batch_mean, batch_inv_std, dx, dgamma, dbeta,
                             ws);
  DIGITS_CUDA_AFTER_OP("batchnorm_backward");
}

}  // namespace digits::cuda
