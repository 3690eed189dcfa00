// Optimised CPU pooling. Max pooling: planes spread over threads, an SSE 2x2 path (the models' case) and
// a general path; the first maximum in row-major order wins ties, as in the reference. Global average
// pooling: one plane per iteration, summed in a fixed order (results do not depend on the thread count).
#include <emmintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"

namespace digits::cpu {
namespace {

// One (n, c) plane, 2x2 windows: compare in row-major order a, b (top row), c, d (bottom row), with a
// strict > so the first maximum wins. Four windows at a time with SSE (baseline x86-64): the compares
// are the same IEEE compares as the scalar code (false on NaN), so the results are identical.
void pool2_plane(const PoolShape& s, const float* x, float* y, int32_t* am) {
  const int P = s.P(), Q = s.Q(), W = s.W;
  const __m128i lane = _mm_setr_epi32(0, 2, 4, 6), off_b = _mm_set1_epi32(1), off_c = _mm_set1_epi32(W),
                off_d = _mm_set1_epi32(W + 1);
  auto pick = [](__m128 gt, __m128 v, __m128 m) { return _mm_or_ps(_mm_and_ps(gt, v), _mm_andnot_ps(gt, m)); };
  auto pick_i = [](__m128 gt, __m128i v, __m128i m) {
    const __m128i g = _mm_castps_si128(gt);
    return _mm_or_si128(_mm_and_si128(g, v), _mm_andnot_si128(g, m));
  };
  for (int p = 0; p < P; ++p) {
    const float* r0 = x + size_t(2 * p) * W;
    const float* r1 = r0 + W;
    float* yp = y + size_t(p) * Q;
    int32_t* ap = am + size_t(p) * Q;
    const int32_t base = 2 * p * W;
    int q = 0;
    for (; q + 4 <= Q; q += 4) {  // reads columns 2q .. 2q + 7 <= 2Q - 1 <= W - 1
      const __m128 t0 = _mm_loadu_ps(r0 + 2 * q), t1 = _mm_loadu_ps(r0 + 2 * q + 4);
      const __m128 u0 = _mm_loadu_ps(r1 + 2 * q), u1 = _mm_loadu_ps(r1 + 2 * q + 4);
      const __m128 a = _mm_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)), b = _mm_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
      const __m128 c = _mm_shuffle_ps(u0, u1, _MM_SHUFFLE(2, 0, 2, 0)), d = _mm_shuffle_ps(u0, u1, _MM_SHUFFLE(3, 1, 3, 1));
      __m128 m = a;
      __m128i off = _mm_setzero_si128();
      __m128 gt = _mm_cmpgt_ps(b, m);
      m = pick(gt, b, m), off = pick_i(gt, off_b, off);
      gt = _mm_cmpgt_ps(c, m);
      m = pick(gt, c, m), off = pick_i(gt, off_c, off);
      gt = _mm_cmpgt_ps(d, m);
      m = pick(gt, d, m), off = pick_i(gt, off_d, off);
      _mm_storeu_ps(yp + q, m);
      const __m128i idx = _mm_add_epi32(_mm_add_epi32(_mm_set1_epi32(base + 2 * q), lane), off);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(ap + q), idx);
    }
    for (; q < Q; ++q) {
      const float a = r0[2 * q], b = r0[2 * q + 1], c = r1[2 * q], d = r1[2 * q + 1];
      float m = a;
      int32_t i = base + 2 * q;
      if (b > m) m = b, i = base + 2 * q + 1;
      if (c > m) m = c, i = base + W + 2 * q;
      if (d > m) m = d, i = base + W + 2 * q + 1;
      yp[q] = m;
      ap[q] = i;
    }
  }
}

void pool_plane(const PoolShape& s, const float* x, float* y, int32_t* am) {
  const int P = s.P(), Q = s.Q();
  for (int p = 0; p < P; ++p)
    for (int q = 0; q < Q; ++q) {
      int32_t best = p * s.size * s.W + q * s.size;
      float m = x[best];
      for (int i = 0; i < s.size; ++i) {
        const float* row = x + size_t(p * s.size + i) * s.W + q * s.size;
        for (int j = 0; j < s.size; ++j)
          if (row[j] > m) m = row[j], best = (p * s.size + i) * s.W + q * s.size + j;
      }
      y[size_t(p) * Q + q] = m;
      am[size_t(p) * Q + q] = best;
    }
}

}  // namespace

void maxpool_forward(const PoolShape& s,
                     const float* x,     // (N, C, H, W)
                     float* y,           // (N, C, P, Q)
                     int32_t* argmax) {  // (N, C, P, Q)
  const int nt = detail::threads();
  const long planes = long(s.N) * s.C;
  const size_t in_plane = size_t(s.H) * s.W, out_plane = size_t(s.P()) * s.Q();
#pragma omp parallel for num_threads(nt) schedule(static) if (s.in_size() > detail::kParallelMin)
  for (long nc = 0; nc < planes; ++nc) {
    if (s.size == 2)
      pool2_plane(s, x + nc * in_plane, y + nc * out_plane, argmax + nc * out_plane);
    else
      pool_plane(s, x + nc * in_plane, y + nc * out_plane, argmax + nc * out_plane);
  }
}

void maxpool_backward(const PoolShape& s,
                      const float* dy,            // (N, C, P, Q)
                      const int32_t* argmax,      // (N, C, P, Q)
                      float* dx) {                // (N, C, H, W)
  const int nt = detail::threads();
  const long planes = long(s.N) * s.C;
  const size_t in_plane = size_t(s.H) * s.W, out_plane = size_t(s.P()) * s.Q();
  bool bad = false;
#pragma omp parallel for num_threads(nt) schedule(static) if (s.in_size() > detail::kParallelMin) reduction(|| : bad)
  for (long nc = 0; nc < planes; ++nc) {
    float* dxp = dx + nc * in_plane;
    const float* dyp = dy + nc * out_plane;
    const int32_t* ap = argmax + nc * out_plane;
    std::memset(dxp, 0, sizeof(float) * in_plane);
    for (size_t o = 0; o < out_plane; ++o) {
      if (ap[o] < 0 || size_t(ap[o]) >= in_plane) {
        bad = true;
        continue;
      }
      dxp[ap[o]] += dyp[o];
    }
  }
  DIGITS_CHECK(!bad, "maxpool_backward: an argmax lies outside its " << s.H << "x" << s.W << " plane");
}

void gap_forward(int N, int C, int HW,
                 const float* x,  // (N, C, HW)
                 float* y) {      // (N, C)
  const int nt = detail::threads();
  const long planes = long(N) * C;
#pragma omp parallel for num_threads(nt) schedule(static) if (size_t(planes) * HW > detail::kParallelMin)
  for (long nc = 0; nc < planes; ++nc) {
    const float* xp = x + size_t(nc) * HW;
    float acc[4] = {0.f, 0.f, 0.f, 0.f};  // four chains the compiler keeps in registers
    int i = 0;
    for (; i + 4 <= HW; i += 4)
      for (int k = 0; k < 4; ++k) acc[k] += xp[i + k];
    double sum = double(acc[0]) + double(acc[1]) + double(acc[2]) + double(acc[3]);
    for (; i < HW; ++i) sum += double(xp[i]);
    y[nc] = float(sum / HW);
  }
}

void gap_backward(int N, int C, int HW,
                  const float* dy,  // (N, C)
                  float* dx) {      // (N, C, HW)
  const int nt = detail::threads();
  const long planes = long(N) * C;
#pragma omp parallel for num_threads(nt) schedule(static) if (size_t(planes) * HW > detail::kParallelMin)
  for (long nc = 0; nc < planes; ++nc) {
    const float g = float(double(dy[nc]) / HW);
    std::fill_n(dx + size_t(nc) * HW, HW, g);
  }
}

}  // namespace digits::cpu
