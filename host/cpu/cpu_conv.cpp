// Optimised CPU convolution. 3x3 filters with enough channels go to Winograd F(2x2, 3x3)
// (cpu_winograd.cpp); the rest is im2col + OpenBLAS sgemm per image, images spread over OpenMP
// threads (cblas inside our parallel regions runs single-threaded in the OpenMP build of OpenBLAS).
// Backward filter sums per-image products into per-chunk partials whose chunking depends on N only,
// then adds the partials in a fixed order, so every result is the same for any thread count.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "cpu/cpu_winograd.h"
#include "error.h"

namespace digits::cpu {
namespace {

// Backward filter aims at this many partial sums for a batch: enough to keep 2-16 threads busy, few
// enough that adding them up costs little next to the products (16 x K*C*R*S floats).
constexpr int kFilterChunks = 16;

void check(const ConvShape& s) {
  DIGITS_CHECK(s.N >= 0 && s.C > 0 && s.H > 0 && s.W > 0 && s.K > 0 && s.R > 0 && s.S > 0,
               "conv2d: bad shape N=" << s.N << " C=" << s.C << " H=" << s.H << " W=" << s.W << " K=" << s.K
                                      << " R=" << s.R << " S=" << s.S);
  DIGITS_CHECK(s.pad >= 0 && s.P() > 0 && s.Q() > 0,
               "conv2d: pad " << s.pad << " gives an empty output " << s.P() << "x" << s.Q());
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
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.K, int(g.PQ), int(g.CRS), 1.f, w, int(g.CRS), col,
              int(g.PQ), 0.f, yn, int(g.PQ));
}
// dcol (CRS, PQ) = w^T (CRS, K) * dy_n (K, PQ)
void gemm_backward_data(const ConvShape& s, const Geometry& g, const float* w, const float* dyn, float* dcol) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(g.CRS), int(g.PQ), s.K, 1.f, w, int(g.CRS), dyn,
              int(g.PQ), 0.f, dcol, int(g.PQ));
}
// dw (K, CRS) (= or +=) dy_n (K, PQ) * col^T (PQ, CRS)
void gemm_backward_filter(const ConvShape& s, const Geometry& g, const float* dyn, const float* col, float beta,
                          float* dw) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.K, int(g.CRS), int(g.PQ), 1.f, dyn, int(g.PQ), col,
              int(g.PQ), beta, dw, int(g.CRS));
}

}  // namespace

// ---- forward -----------------------------------------------------------------------------------
void conv2d_forward(const ConvShape& s,
                    const float* x,  // (N, C, H, W)
                    const float* w,  // (K, C, R, S)
                    float* y) {      // (N, K, P, Q)
  check(s);
  if (detail::winograd_applicable(s)) return detail::winograd_forward(s, x, w, y);
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
    detail::prepare_blas_outside();
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
  check(s);
  if (detail::winograd_applicable(s)) return detail::winograd_backward_data(s, dy, w, dx);
  const Geometry g(s);
  const int nt = detail::threads();
  if (s.N == 1) {
    detail::prepare_blas_outside();
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
  check(s);
  if (detail::winograd_applicable(s)) return detail::winograd_backward_filter(s, x, dy, dw);
  const Geometry g(s);
  const int nt = detail::threads();
  const size_t wsize = s.weight_size();
  if (s.N == 0) {
    std::fill(dw, dw + wsize, 0.f);
    return;
  }
  // Chunks of consecutive images; their number depends on N only (never on the thread count).
  const int chunk = (s.N + kFilterChunks - 1) / kFilterChunks;
  const int nchunks = (s.N + chunk - 1) / chunk;

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
      if (!inside_parallel) detail::prepare_blas_outside();
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

}  // namespace digits::cpu
