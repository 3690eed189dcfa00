// Optimised CPU convolution. 3x3 filters with enough channels go to Winograd F(2x2, 3x3)
// (cpu_winograd.cpp); unpadded 5x5 filters over few input channels (the first layers) to a
// direct register-blocked kernel (forward and backward filter); the rest is im2col + OpenBLAS sgemm per image, images spread over OpenMP
// threads (cblas inside our parallel regions runs single-threaded in the OpenMP build of OpenBLAS).
// Backward filter sums per-image products into per-chunk partials whose chunking depends on N only,
// then adds the partials in a fixed order, so every result is the same for any thread count.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "cpu/cpu_common.h"
#include "cpu/cpu_conv.h"
#include "cpu/cpu_ops.h"
#include "cpu/cpu_winograd.h"
#include "error.h"

namespace digits::cpu {
namespace {

// Backward filter aims at this many partial sums for a batch: enough to keep 2-16 threads busy, few
// enough that adding them up costs little next to the products (16 x K*C*R*S floats).
constexpr int kFilterChunks = 16;

// Backward filter's chunks of consecutive images: `count` chunks of `size` images, a number that depends on N
// only (never on the thread count), so the partial sums add up in the same order for any thread count.
struct ImageChunks {
  int size, count;
  explicit ImageChunks(int N) : size((N + kFilterChunks - 1) / kFilterChunks), count((N + size - 1) / size) {}
};

// dw = 0 for an empty batch; true when that was all there was to do.
bool zero_if_empty(const ConvShape& s, float* dw) {
  if (s.N != 0) return false;
  std::fill(dw, dw + s.weight_size(), 0.f);
  return true;
}

struct Geometry {
  explicit Geometry(const ConvShape& s)
      : P(s.P()),
        Q(s.Q()),
        CRS(size_t(s.C) * s.R * s.S),
        PQ(size_t(P) * Q),
        CHW(size_t(s.C) * s.H * s.W),
        KPQ(size_t(s.K) * P * Q),
        direct(s.R == 1 && s.S == 1 && s.pad == 0) {}
  int P, Q;
  size_t CRS, PQ, CHW, KPQ;
  bool direct;  // a 1x1 unpadded convolution is a plain matrix product: no im2col needed
};

// col rows [row_begin, row_end) of one image; row (c*R + r)*S + t holds x[c, p+r-pad, q+t-pad] over (p, q).
void im2col_rows(const ConvShape& s, const Geometry& g,
                 const float* x,  // (C, H, W)
                 float* col,      // (C*R*S, P*Q)
                 size_t row_begin, size_t row_end) {
  for (size_t row = row_begin; row < row_end; ++row) {
    const int t = int(row % s.S), r = int(row / s.S % s.R), c = int(row / (size_t(s.S) * s.R));
    const float* xc = x + size_t(c) * s.H * s.W;
    float* dst = col + row * g.PQ;
    // q in [q0, q1) reads inside the row; the rest is padding
    const int q0 = std::clamp(s.pad - t, 0, g.Q), q1 = std::clamp(s.W + s.pad - t, q0, g.Q);
    for (int p = 0; p < g.P; ++p, dst += g.Q) {
      const int h = p + r - s.pad;
      if (h < 0 || h >= s.H) {
        std::memset(dst, 0, sizeof(float) * g.Q);
        continue;
      }
      const float* src = xc + size_t(h) * s.W + (t - s.pad);
      for (int q = 0; q < q0; ++q) dst[q] = 0.f;
      std::memcpy(dst + q0, src + q0, sizeof(float) * (q1 - q0));
      for (int q = q1; q < g.Q; ++q) dst[q] = 0.f;
    }
  }
}

// dx planes [c_begin, c_end) of one image = the sum of the col entries that im2col read from them.
void col2im_planes(const ConvShape& s, const Geometry& g,
                   const float* col,  // (C*R*S, P*Q)
                   float* dx,         // (C, H, W)
                   int c_begin, int c_end) {
  for (int c = c_begin; c < c_end; ++c) {
    float* dxc = dx + size_t(c) * s.H * s.W;
    std::memset(dxc, 0, sizeof(float) * s.H * s.W);
    for (int r = 0; r < s.R; ++r)
      for (int t = 0; t < s.S; ++t) {
        const float* src = col + ((size_t(c) * s.R + r) * s.S + t) * g.PQ;
        const int q0 = std::clamp(s.pad - t, 0, g.Q), q1 = std::clamp(s.W + s.pad - t, q0, g.Q);
        for (int p = 0; p < g.P; ++p, src += g.Q) {
          const int h = p + r - s.pad;
          if (h < 0 || h >= s.H) continue;
          float* dst = dxc + size_t(h) * s.W + (t - s.pad);
          for (int q = q0; q < q1; ++q) dst[q] += src[q];
        }
      }
  }
}

// y_n (K, PQ) = w (K, CRS) * col (CRS, PQ)
void gemm_forward(const ConvShape& s, const Geometry& g, const float* w, const float* col, float* yn) {
  detail::sgemm(false, false, s.K, int(g.PQ), int(g.CRS), 1.f, w, int(g.CRS), col, int(g.PQ), 0.f, yn, int(g.PQ));
}
// dcol (CRS, PQ) = w^T (CRS, K) * dy_n (K, PQ)
void gemm_backward_data(const ConvShape& s, const Geometry& g, const float* w, const float* dyn, float* dcol) {
  detail::sgemm(true, false, int(g.CRS), int(g.PQ), s.K, 1.f, w, int(g.CRS), dyn, int(g.PQ), 0.f, dcol, int(g.PQ));
}
// dw (K, CRS) (= or +=) dy_n (K, PQ) * col^T (PQ, CRS)
void gemm_backward_filter(const ConvShape& s, const Geometry& g, const float* dyn, const float* col, float beta,
                          float* dw) {
  detail::sgemm(false, true, s.K, int(g.CRS), int(g.PQ), 1.f, dyn, int(g.PQ), col, int(g.PQ), beta, dw, int(g.CRS));
}


// ---- direct convolution for few input channels (the first layer: C*R*S small) -------------------
// im2col + sgemm runs such layers at a fraction of the FMA peak (the summed dimension C*R*S is ~9-25,
// so the product is dominated by packing and by loading and storing its result). Here each output row
// is computed in registers: 8 output channels x up to 24 columns (3 vectors of 8) accumulate over the
// taps, the filter taps broadcast from a (C*R*S, K) transposed copy. Backward filter accumulates
// 4 channels x S taps of one filter row in vectors over the columns. Compiled three times (AVX-512,
// AVX2+FMA, baseline) from the same code and picked at run time; the thread count never changes a sum.
typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
// The helpers below pass 32-byte vectors by value; they are always inlined into one ISA's caller.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

inline __attribute__((always_inline)) v8f load8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline __attribute__((always_inline)) void store8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }

// Output channels per register block. AVX-512VL has 32 vector registers: forward 8 channels x 3 column
// vectors = 24 accumulators, backward filter 4 channels x 5 taps = 20. AVX2 and the baseline have 16, so
// there the blocks are halved (12 and 10 accumulators); the AVX-512 sizes spill to the stack there.
constexpr int kDirectKB = 8;  // forward block on AVX-512; every block size divides it (applicability check)
template <bool Wide>
constexpr int kFwdKB = Wide ? 8 : 4;
template <bool Wide>
constexpr int kFilterKB = Wide ? 4 : 2;

// 5x5 and 3x3 (other widths would need their own case in direct_filter_images_body). Measured against im2col + sgemm with the
// AVX2 blocks, 2 threads, idle machine, ms per batch of 128: keras.conv1 (3x3, C=1) forward 2.31 -> 1.64
// and backward filter 2.17 -> 1.35 CPU; 5x5 earlier on seed.conv1, 1 thread: 2.06 -> 1.67 and 2.12 -> 1.87.
std::atomic<bool> g_direct_enabled{true};
bool direct_applicable(const ConvShape& s) {
  return detail::direct_enabled() && s.pad == 0 && size_t(s.C) * s.R * s.S <= 64 && s.Q() >= 8 && s.K % kDirectKB == 0 && (s.S == 5 || s.S == 3);
}

// One output row p of one image, channels [k0, k0 + 8), columns [q0, q0 + 8 NV): y = sum over taps.
template <int KB, int NV>
inline __attribute__((always_inline)) void direct_fwd_block(const ConvShape& s, int P, int Q, const float* xn,
                                                            const float* wt, float* yn, int p, int k0, int q0) {
  v8f acc[KB][NV];
  for (int kk = 0; kk < KB; ++kk)
    for (int j = 0; j < NV; ++j) acc[kk][j] = v8f{};
  for (int c = 0; c < s.C; ++c)
    for (int r = 0; r < s.R; ++r) {
      const float* row = xn + (size_t(c) * s.H + p + r) * s.W + q0;
      const float* wr = wt + (size_t(c) * s.R + r) * s.S * s.K + k0;
      for (int t = 0; t < s.S; ++t) {
        v8f xv[NV];
        for (int j = 0; j < NV; ++j) xv[j] = load8(row + t + 8 * j);
        const float* wp = wr + size_t(t) * s.K;
        for (int kk = 0; kk < KB; ++kk) {
          const float wv = wp[kk];
          for (int j = 0; j < NV; ++j) acc[kk][j] += wv * xv[j];
        }
      }
    }
  for (int kk = 0; kk < KB; ++kk)
    for (int j = 0; j < NV; ++j) store8(yn + (size_t(k0 + kk) * P + p) * Q + q0 + 8 * j, acc[kk][j]);
}

// Output rows [row_begin, row_end) of the flattened (n, p) range. Columns in blocks of 24; the last
// block is shifted left to end at Q (overlapping columns are computed twice, identically).
template <bool Wide>
inline __attribute__((always_inline)) void direct_fwd_rows_body(const ConvShape& s, const float* x, const float* wt,
                                                               float* y, long row_begin, long row_end) {
  const int P = s.P(), Q = s.Q();
  for (long nr = row_begin; nr < row_end; ++nr) {
    const int n = int(nr / P), p = int(nr % P);
    const float* xn = x + size_t(n) * s.C * s.H * s.W;
    float* yn = y + size_t(n) * s.K * P * Q;
    constexpr int KB = kFwdKB<Wide>;
    for (int k0 = 0; k0 < s.K; k0 += KB)
      for (int q0 = 0; q0 < Q;) {
        const int rem = Q - q0, nv = std::min({3, (rem + 7) / 8, Q / 8}), start = std::min(q0, Q - 8 * nv);
        if (nv == 3)
          direct_fwd_block<KB, 3>(s, P, Q, xn, wt, yn, p, k0, start);
        else if (nv == 2)
          direct_fwd_block<KB, 2>(s, P, Q, xn, wt, yn, p, k0, start);
        else
          direct_fwd_block<KB, 1>(s, P, Q, xn, wt, yn, p, k0, start);
        q0 = start + 8 * nv;
      }
  }
}

// dw accumulators (K, C, R, S, 8 lanes) += the products of one image, for S taps per filter row.
template <int KB, int S>
inline __attribute__((always_inline)) void direct_filter_image_body(const ConvShape& s, const float* xn,
                                                                   const float* dyn, float* accv) {
  const int P = s.P(), Q = s.Q(), Q8 = Q / 8 * 8;
  v8i tail_mask;  // lane j is column Q - 8 + j: kept when not yet summed by the full vectors
  for (int j = 0; j < 8; ++j) tail_mask[j] = Q - 8 + j >= Q8 ? -1 : 0;
  for (int k0 = 0; k0 < s.K; k0 += KB)
    for (int c = 0; c < s.C; ++c)
      for (int r = 0; r < s.R; ++r) {
        v8f acc[KB][S];
        float* av[KB];
        for (int kk = 0; kk < KB; ++kk) {
          av[kk] = accv + ((size_t(k0 + kk) * s.C + c) * s.R + r) * S * 8;
          for (int t = 0; t < S; ++t) acc[kk][t] = load8(av[kk] + 8 * t);
        }
        for (int p = 0; p < P; ++p) {
          const float* xrow = xn + (size_t(c) * s.H + p + r) * s.W;
          const float* dyrow = dyn + size_t(k0) * P * Q + size_t(p) * Q;
          for (int q0 = 0; q0 < Q8; q0 += 8) {
            v8f dv[KB];
            for (int kk = 0; kk < KB; ++kk) dv[kk] = load8(dyrow + size_t(kk) * P * Q + q0);
            for (int t = 0; t < S; ++t) {
              const v8f xv = load8(xrow + q0 + t);
              for (int kk = 0; kk < KB; ++kk) acc[kk][t] += dv[kk] * xv;
            }
          }
          if (Q8 < Q) {  // the last Q - Q8 columns: vectors ending at column Q - 1, lanes before Q8 masked off
            v8f dv[KB];
            for (int kk = 0; kk < KB; ++kk) dv[kk] = load8(dyrow + size_t(kk) * P * Q + Q - 8);
            for (int t = 0; t < S; ++t) {
              const v8f xv = load8(xrow + Q - 8 + t);  // columns up to Q - 1 + t <= W - 1
              for (int kk = 0; kk < KB; ++kk) acc[kk][t] += (v8f)((v8i)(dv[kk] * xv) & tail_mask);
            }
          }
        }
        for (int kk = 0; kk < KB; ++kk)
          for (int t = 0; t < S; ++t) store8(av[kk] + 8 * t, acc[kk][t]);
      }
}

template <bool Wide>
inline __attribute__((always_inline)) void direct_filter_images_body(const ConvShape& s, const float* x,
                                                                    const float* dy, int n0, int n1, float* accv) {
  const size_t CHW = size_t(s.C) * s.H * s.W, KPQ = size_t(s.K) * s.P() * s.Q();
  for (int n = n0; n < n1; ++n) {
    if (s.S == 5)
      direct_filter_image_body<kFilterKB<Wide>, 5>(s, x + n * CHW, dy + n * KPQ, accv);
    else
      direct_filter_image_body<kFilterKB<Wide>, 3>(s, x + n * CHW, dy + n * KPQ, accv);
  }
}

__attribute__((target("avx512f,avx512vl,fma"))) void direct_fwd_rows_avx512(const ConvShape& s, const float* x,
                                                                            const float* wt, float* y, long b, long e) {
  direct_fwd_rows_body<true>(s, x, wt, y, b, e);
}
__attribute__((target("avx2,fma"))) void direct_fwd_rows_avx2(const ConvShape& s, const float* x, const float* wt,
                                                              float* y, long b, long e) {
  direct_fwd_rows_body<false>(s, x, wt, y, b, e);
}
void direct_fwd_rows_base(const ConvShape& s, const float* x, const float* wt, float* y, long b, long e) {
  direct_fwd_rows_body<false>(s, x, wt, y, b, e);
}
__attribute__((target("avx512f,avx512vl,fma"))) void direct_filter_avx512(const ConvShape& s, const float* x,
                                                                          const float* dy, int n0, int n1, float* a) {
  direct_filter_images_body<true>(s, x, dy, n0, n1, a);
}
__attribute__((target("avx2,fma"))) void direct_filter_avx2(const ConvShape& s, const float* x, const float* dy,
                                                            int n0, int n1, float* a) {
  direct_filter_images_body<false>(s, x, dy, n0, n1, a);
}
void direct_filter_base(const ConvShape& s, const float* x, const float* dy, int n0, int n1, float* a) {
  direct_filter_images_body<false>(s, x, dy, n0, n1, a);
}
#pragma GCC diagnostic pop

void direct_forward(const ConvShape& s, const float* x, const float* w, float* y) {
  const size_t CRS = size_t(s.C) * s.R * s.S;
  // wt (CRS, K) = w (K, CRS) transposed: the 8 taps of a register block are contiguous
  float* wt = detail::scratch(CRS * s.K, 2);
  for (int k = 0; k < s.K; ++k)
    for (size_t i = 0; i < CRS; ++i) wt[i * s.K + k] = w[k * CRS + i];
  const long rows = long(s.N) * s.P();
  const int nt = detail::threads();
  const detail::Isa is = detail::isa();
  // fixed row ranges: each output is computed by one call whatever the thread count
  constexpr long kRowsPerTask = 8;
  const long tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) if (tasks > 1 && s.out_size() > detail::kParallelMin / 4)
  for (long tk = 0; tk < tasks; ++tk) {
    const long b = tk * kRowsPerTask, e = std::min(rows, b + kRowsPerTask);
    if (is == detail::Isa::Avx512)
      direct_fwd_rows_avx512(s, x, wt, y, b, e);
    else if (is == detail::Isa::Avx2)
      direct_fwd_rows_avx2(s, x, wt, y, b, e);
    else
      direct_fwd_rows_base(s, x, wt, y, b, e);
  }
}

void direct_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  if (zero_if_empty(s, dw)) return;
  // chunks of images, each summed by one thread into 8-lane vector partials; then per weight: lanes in
  // order, chunks in order
  const size_t wsize = s.weight_size();
  const ImageChunks chunks(s.N);
  const int chunk = chunks.size, nchunks = chunks.count;
  const size_t vsize = wsize * 8;
  float* partial = detail::scratch(size_t(nchunks) * vsize, 3);
  const int nt = detail::threads();
  const detail::Isa is = detail::isa();
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nchunks > 1)
  for (int ci = 0; ci < nchunks; ++ci) {
    float* a = partial + size_t(ci) * vsize;
    std::fill(a, a + vsize, 0.f);
    const int n0 = ci * chunk, n1 = std::min(s.N, n0 + chunk);
    if (is == detail::Isa::Avx512)
      direct_filter_avx512(s, x, dy, n0, n1, a);
    else if (is == detail::Isa::Avx2)
      direct_filter_avx2(s, x, dy, n0, n1, a);
    else
      direct_filter_base(s, x, dy, n0, n1, a);
  }
  for (size_t i = 0; i < wsize; ++i) {
    float sum = 0.f;
    for (int ci = 0; ci < nchunks; ++ci) {
      const float* l = partial + size_t(ci) * vsize + i * 8;
      sum += ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    }
    dw[i] = sum;
  }
}

}  // namespace

// ---- forward -----------------------------------------------------------------------------------
void conv2d_forward(const ConvShape& s,
                    const float* x,  // (N, C, H, W)
                    const float* w,  // (K, C, R, S)
                    float* y) {      // (N, K, P, Q)
  if (detail::winograd_applicable(s)) return detail::winograd_forward(s, x, w, y);
  if (direct_applicable(s)) return direct_forward(s, x, w, y);
  const Geometry g(s);
  const int nt = detail::threads();
  if (s.N == 1) {
    // One image (inference): split im2col over threads, then let OpenBLAS thread the product.
    const float* col = x;
    if (!g.direct) {
      float* buf = detail::scratch(g.CRS * g.PQ);
#pragma omp parallel for num_threads(nt) schedule(static) if (g.CRS * g.PQ > detail::kParallelMin)
      for (size_t row = 0; row < g.CRS; ++row) im2col_rows(s, g, x, buf, row, row + 1);
      col = buf;
    }
    gemm_forward(s, g, w, col, y);
    return;
  }
  detail::ParallelErrors errors;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int n = 0; n < s.N; ++n) {
    errors.run([&] {
      const float* xn = x + size_t(n) * g.CHW;
      const float* col = xn;
      if (!g.direct) {
        float* buf = detail::scratch(g.CRS * g.PQ);
        im2col_rows(s, g, xn, buf, 0, g.CRS);
        col = buf;
      }
      gemm_forward(s, g, w, col, y + size_t(n) * g.KPQ);
    });
  }
  errors.rethrow();
}

// ---- backward data -----------------------------------------------------------------------------
void conv2d_backward_data(const ConvShape& s,
                          const float* dy,  // (N, K, P, Q)
                          const float* w,   // (K, C, R, S)
                          float* dx) {      // (N, C, H, W)
  if (detail::winograd_applicable(s)) return detail::winograd_backward_data(s, dy, w, dx);
  const Geometry g(s);
  const int nt = detail::threads();
  if (s.N == 1) {
    if (g.direct) {
      gemm_backward_data(s, g, w, dy, dx);
      return;
    }
    float* dcol = detail::scratch(g.CRS * g.PQ, 1);
    gemm_backward_data(s, g, w, dy, dcol);
#pragma omp parallel for num_threads(nt) schedule(static) if (g.CRS * g.PQ > detail::kParallelMin)
    for (int c = 0; c < s.C; ++c) col2im_planes(s, g, dcol, dx, c, c + 1);
    return;
  }
  detail::ParallelErrors errors;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int n = 0; n < s.N; ++n) {
    errors.run([&] {
      const float* dyn = dy + size_t(n) * g.KPQ;
      float* dxn = dx + size_t(n) * g.CHW;
      if (g.direct) {
        gemm_backward_data(s, g, w, dyn, dxn);
        return;
      }
      float* dcol = detail::scratch(g.CRS * g.PQ, 1);
      gemm_backward_data(s, g, w, dyn, dcol);
      col2im_planes(s, g, dcol, dxn, 0, s.C);
    });
  }
  errors.rethrow();
}

// ---- backward filter ---------------------------------------------------------------------------
void conv2d_backward_filter(const ConvShape& s,
                            const float* x,   // (N, C, H, W)
                            const float* dy,  // (N, K, P, Q)
                            float* dw) {      // (K, C, R, S)
  if (detail::winograd_applicable(s)) return detail::winograd_backward_filter(s, x, dy, dw);
  if (direct_applicable(s)) return direct_backward_filter(s, x, dy, dw);
  const Geometry g(s);
  const int nt = detail::threads();
  if (zero_if_empty(s, dw)) return;
  const size_t wsize = s.weight_size();
  const ImageChunks chunks(s.N);
  const int chunk = chunks.size, nchunks = chunks.count;

  // One chunk's partial sum: image by image, the first product overwrites and the rest accumulate.
  auto run_chunk = [&](int ci, float* out, bool inside_parallel) {
    for (int n = ci * chunk; n < std::min(s.N, (ci + 1) * chunk); ++n) {
      const float* xn = x + size_t(n) * g.CHW;
      const float* col = xn;
      if (!g.direct) {
        float* buf = detail::scratch(g.CRS * g.PQ);
        if (inside_parallel) {
          im2col_rows(s, g, xn, buf, 0, g.CRS);
        } else {
#pragma omp parallel for num_threads(nt) schedule(static) if (g.CRS * g.PQ > detail::kParallelMin)
          for (size_t row = 0; row < g.CRS; ++row) im2col_rows(s, g, xn, buf, row, row + 1);
        }
        col = buf;
      }
      gemm_backward_filter(s, g, dy + size_t(n) * g.KPQ, col, n == ci * chunk ? 0.f : 1.f, out);
    }
  };

  if (nchunks == 1) {
    run_chunk(0, dw, false);
    return;
  }
  float* partial = detail::scratch(size_t(nchunks) * wsize, 3);  // the calling thread's slot
  detail::ParallelErrors errors;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int ci = 0; ci < nchunks; ++ci) errors.run([&] { run_chunk(ci, partial + size_t(ci) * wsize, true); });
  errors.rethrow();
  // dw = partial[0] + partial[1] + ... in this order for every element (blocks vectorise the adds)
  constexpr size_t kBlock = 4096;
  const long nblocks = long((wsize + kBlock - 1) / kBlock);
#pragma omp parallel for num_threads(nt) schedule(static) if (wsize * nchunks > detail::kParallelMin)
  for (long b = 0; b < nblocks; ++b) {
    const size_t i0 = size_t(b) * kBlock, i1 = std::min(wsize, i0 + kBlock);
    std::copy(partial + i0, partial + i1, dw + i0);
    for (int ci = 1; ci < nchunks; ++ci) {
      const float* src = partial + size_t(ci) * wsize;
      for (size_t i = i0; i < i1; ++i) dw[i] += src[i];
    }
  }
}

namespace detail {

void set_direct_enabled(bool on) { g_direct_enabled.store(on); }
bool direct_enabled() { return g_direct_enabled.load(std::memory_order_relaxed); }

const char* to_string(ConvAlgo a) {
  return a == ConvAlgo::Winograd ? "winograd" : a == ConvAlgo::Direct ? "direct" : "im2col";
}

ConvAlgo conv_algo(const std::string& op, const ConvShape& s) {
  DIGITS_CHECK(op == "conv2d_forward" || op == "conv2d_backward_data" || op == "conv2d_backward_filter",
               "conv_algo: '" << op << "' is not a convolution");
  if (winograd_applicable(s)) return ConvAlgo::Winograd;
  if (op != "conv2d_backward_data" && direct_applicable(s)) return ConvAlgo::Direct;
  return ConvAlgo::Im2col;
}

}  // namespace detail
}  // namespace digits::cpu
