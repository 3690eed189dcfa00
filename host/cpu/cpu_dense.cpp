// Optimised CPU dense layer (one sgemm each through detail::sgemm, in chunks fixed by the shape so the
// sums do not depend on the thread count; for a single image sgemv in fixed chunks over our threads)
// and bias.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"

namespace digits::cpu {
namespace {

// Sum of n floats in a fixed order: 16 float lanes (four 4-wide vectors, so plain SSE2 code adds them
// in parallel), then the lanes and the tail in double.
double sum_floats(const float* p, int n) {
  typedef float v4 __attribute__((vector_size(16)));
  v4 acc[4] = {};
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; ++k) {
      v4 t;
      std::memcpy(&t, p + i + 4 * k, sizeof t);
      acc[k] += t;
    }
  float lanes[16];
  std::memcpy(lanes, acc, sizeof lanes);
  double s = 0;
  for (float l : lanes) s += double(l);
  for (; i < n; ++i) s += double(p[i]);
  return s;
}

// A matrix-vector product for one image, split into fixed chunks of outputs spread over threads. The
// OpenBLAS sgemv would thread itself, but not always into the same sums for every thread count; here
// each output is always computed by the same single-threaded call, whatever the thread count.
template <class F>
void gemv_chunks(int n, F chunk) {
  constexpr int kChunk = 32;
  const int nchunks = (n + kChunk - 1) / kChunk;
  // No `if` clause: even one chunk must run inside an active region, where OpenBLAS stays single-threaded.
#pragma omp parallel for num_threads(detail::threads()) schedule(static)
  for (int c = 0; c < nchunks; ++c) chunk(c * kChunk, std::min(n, (c + 1) * kChunk));
}

}  // namespace

// ---- dense -------------------------------------------------------------------------------------
void dense_forward(const DenseShape& s,
                   const float* x,  // (N, in)
                   const float* w,  // (out, in)
                   float* y) {      // (N, out)
  if (s.N == 0) return;
  if (s.N == 1) {  // one image (inference): y = w x, no packing of w as sgemm would do on every call
    detail::prepare_blas_outside();
    gemv_chunks(s.out, [&](int o0, int o1) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, o1 - o0, s.in, 1.f, w + size_t(o0) * s.in, s.in, x, 1, 0.f, y + o0, 1);
    });
    return;
  }
  detail::sgemm(false, true, s.N, s.out, s.in, 1.f, x, s.in, w, s.in, 0.f, y, s.out);
}

void dense_backward_data(const DenseShape& s,
                         const float* dy,  // (N, out)
                         const float* w,   // (out, in)
                         float* dx) {      // (N, in)
  if (s.N == 0) return;
  if (s.N == 1) {  // dx = w^T dy, by column blocks of w
    detail::prepare_blas_outside();
    gemv_chunks(s.in, [&](int i0, int i1) {
      cblas_sgemv(CblasRowMajor, CblasTrans, s.out, i1 - i0, 1.f, w + i0, s.in, dy, 1, 0.f, dx + i0, 1);
    });
    return;
  }
  detail::sgemm(false, false, s.N, s.in, s.out, 1.f, dy, s.out, w, s.in, 0.f, dx, s.in);
}

void dense_backward_weight(const DenseShape& s,
                           const float* x,   // (N, in)
                           const float* dy,  // (N, out)
                           float* dw) {      // (out, in)
  if (s.N == 0) {
    std::fill(dw, dw + size_t(s.out) * s.in, 0.f);
    return;
  }
  detail::sgemm(true, false, s.out, s.in, s.N, 1.f, dy, s.out, x, s.in, 0.f, dw, s.in);
}

// ---- bias --------------------------------------------------------------------------------------
void bias_forward(int N, int C, int HW,
                  const float* b,  // (C)
                  float* y) {      // (N, C, HW), += b
  const int nt = detail::threads();
  const size_t total = size_t(N) * C * HW;
  if (HW == 1) {
#pragma omp parallel for num_threads(nt) schedule(static) if (total > detail::kParallelMin)
    for (int n = 0; n < N; ++n) {
      float* yn = y + size_t(n) * C;
      for (int c = 0; c < C; ++c) yn[c] += b[c];
    }
    return;
  }
  const long planes = long(N) * C;
#pragma omp parallel for num_threads(nt) schedule(static) if (total > detail::kParallelMin)
  for (long nc = 0; nc < planes; ++nc) {
    const float bc = b[nc % C];
    float* yp = y + size_t(nc) * HW;
    for (int i = 0; i < HW; ++i) yp[i] += bc;
  }
}

void bias_backward(int N, int C, int HW,
                   const float* dy,  // (N, C, HW)
                   float* db) {      // (C)
  const int nt = detail::threads();
  const size_t total = size_t(N) * C * HW;
  if (HW < 16) {
    // dense layers (HW = 1): each channel summed over the batch in double by one thread
#pragma omp parallel for num_threads(nt) schedule(static) if (total > detail::kParallelMin)
    for (int c = 0; c < C; ++c) {
      double acc = 0;
      for (int n = 0; n < N; ++n)
        for (int i = 0; i < HW; ++i) acc += double(dy[(size_t(n) * C + c) * HW + i]);
      db[c] = float(acc);
    }
    return;
  }
  // Plane sums in memory order (streaming, any thread), then per channel over n in a fixed order.
  const long planes = long(N) * C;
  std::vector<double> plane_sum(static_cast<size_t>(planes));
#pragma omp parallel for num_threads(nt) schedule(static) if (total > detail::kParallelMin)
  for (long nc = 0; nc < planes; ++nc) plane_sum[size_t(nc)] = sum_floats(dy + size_t(nc) * HW, HW);
  for (int c = 0; c < C; ++c) {
    double acc = 0;
    for (int n = 0; n < N; ++n) acc += plane_sum[size_t(n) * C + c];
    db[c] = float(acc);
  }
}

}  // namespace digits::cpu
