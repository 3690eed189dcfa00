// Optimised CPU optimizer updates: the reference formulas element by element, split over threads in
// fixed blocks. Adadelta and Adam need square roots, which GCC does not vectorise while errno is
// observable, so they are written with SSE (every x86-64 CPU) and AVX-512 intrinsics, picked at run
// time. Each intrinsic is one IEEE operation in the reference's order (no fused multiply-add), so all
// versions give the reference's bits. Element-wise: the result never depends on the thread count.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"

namespace digits::cpu {
namespace {

constexpr size_t kBlock = 8192;  // elements per parallel work item

bool has_avx512() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return yes;
}

// Runs body(i0, i1) over [0, n) in blocks of kBlock, in parallel when n is large.
template <class F>
void for_blocks(size_t n, F body) {
  const long blocks = long((n + kBlock - 1) / kBlock);
#pragma omp parallel for num_threads(detail::threads()) schedule(static) if (n > detail::kParallelMin)
  for (long b = 0; b < blocks; ++b) body(size_t(b) * kBlock, std::min(n, size_t(b + 1) * kBlock));
}

// ---- Adadelta: a = rho a + (1-rho) g^2; d = sqrt(u + eps) / sqrt(a + eps) g; u = rho u + (1-rho) d^2; w -= lr d
struct AdadeltaK {
  float rho, omr, eps, lr;  // omr = 1 - rho
};

void adadelta_scalar(const AdadeltaK& k, size_t i0, size_t i1, float* w, const float* g, float* ag, float* ad) {
  for (size_t i = i0; i < i1; ++i) {
    const float gi = g[i];
    const float a = k.rho * ag[i] + k.omr * gi * gi;
    const float d = std::sqrt(ad[i] + k.eps) / std::sqrt(a + k.eps) * gi;
    ag[i] = a;
    ad[i] = k.rho * ad[i] + k.omr * d * d;
    w[i] -= k.lr * d;
  }
}

void adadelta_sse(const AdadeltaK& k, size_t i0, size_t i1, float* w, const float* g, float* ag, float* ad) {
  const __m128 rho = _mm_set1_ps(k.rho), omr = _mm_set1_ps(k.omr), eps = _mm_set1_ps(k.eps), lr = _mm_set1_ps(k.lr);
  size_t i = i0;
  for (; i + 4 <= i1; i += 4) {
    const __m128 gi = _mm_loadu_ps(g + i), a0 = _mm_loadu_ps(ag + i), u0 = _mm_loadu_ps(ad + i);
    const __m128 a = _mm_add_ps(_mm_mul_ps(rho, a0), _mm_mul_ps(_mm_mul_ps(omr, gi), gi));
    const __m128 d = _mm_mul_ps(_mm_div_ps(_mm_sqrt_ps(_mm_add_ps(u0, eps)), _mm_sqrt_ps(_mm_add_ps(a, eps))), gi);
    _mm_storeu_ps(ag + i, a);
    _mm_storeu_ps(ad + i, _mm_add_ps(_mm_mul_ps(rho, u0), _mm_mul_ps(_mm_mul_ps(omr, d), d)));
    _mm_storeu_ps(w + i, _mm_sub_ps(_mm_loadu_ps(w + i), _mm_mul_ps(lr, d)));
  }
  adadelta_scalar(k, i, i1, w, g, ag, ad);
}

// GCC 12 warns about the deliberately undefined registers inside its own AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

__attribute__((target("avx512f"))) void adadelta_avx512(const AdadeltaK& k, size_t i0, size_t i1, float* w,
                                                        const float* g, float* ag, float* ad) {
  const __m512 rho = _mm512_set1_ps(k.rho), omr = _mm512_set1_ps(k.omr), eps = _mm512_set1_ps(k.eps);
  const __m512 lr = _mm512_set1_ps(k.lr);
  size_t i = i0;
  for (; i + 16 <= i1; i += 16) {
    const __m512 gi = _mm512_loadu_ps(g + i), a0 = _mm512_loadu_ps(ag + i), u0 = _mm512_loadu_ps(ad + i);
    const __m512 a = _mm512_add_ps(_mm512_mul_ps(rho, a0), _mm512_mul_ps(_mm512_mul_ps(omr, gi), gi));
    const __m512 d =
        _mm512_mul_ps(_mm512_div_ps(_mm512_sqrt_ps(_mm512_add_ps(u0, eps)), _mm512_sqrt_ps(_mm512_add_ps(a, eps))), gi);
    _mm512_storeu_ps(ag + i, a);
    _mm512_storeu_ps(ad + i, _mm512_add_ps(_mm512_mul_ps(rho, u0), _mm512_mul_ps(_mm512_mul_ps(omr, d), d)));
    _mm512_storeu_ps(w + i, _mm512_sub_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(lr, d)));
  }
  adadelta_scalar(k, i, i1, w, g, ag, ad);
}

#pragma GCC diagnostic pop

// ---- Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr (m / c1) / (sqrt(v / c2) + eps)
struct AdamK {
  float b1, omb1, b2, omb2, c1, c2, lr, eps;
};

void adam_scalar(const AdamK& k, size_t i0, size_t i1, float* w, const float* g, float* m, float* v) {
  for (size_t i = i0; i < i1; ++i) {
    const float gi = g[i];
    const float mi = k.b1 * m[i] + k.omb1 * gi;
    const float vi = k.b2 * v[i] + k.omb2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= k.lr * (mi / k.c1) / (std::sqrt(vi / k.c2) + k.eps);
  }
}

void adam_sse(const AdamK& k, size_t i0, size_t i1, float* w, const float* g, float* m, float* v) {
  const __m128 b1 = _mm_set1_ps(k.b1), omb1 = _mm_set1_ps(k.omb1), b2 = _mm_set1_ps(k.b2), omb2 = _mm_set1_ps(k.omb2);
  const __m128 c1 = _mm_set1_ps(k.c1), c2 = _mm_set1_ps(k.c2), lr = _mm_set1_ps(k.lr), eps = _mm_set1_ps(k.eps);
  size_t i = i0;
  for (; i + 4 <= i1; i += 4) {
    const __m128 gi = _mm_loadu_ps(g + i);
    const __m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m + i)), _mm_mul_ps(omb1, gi));
    const __m128 vi = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(omb2, gi), gi));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    const __m128 step = _mm_div_ps(_mm_mul_ps(lr, _mm_div_ps(mi, c1)), _mm_add_ps(_mm_sqrt_ps(_mm_div_ps(vi, c2)), eps));
    _mm_storeu_ps(w + i, _mm_sub_ps(_mm_loadu_ps(w + i), step));
  }
  adam_scalar(k, i, i1, w, g, m, v);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

__attribute__((target("avx512f"))) void adam_avx512(const AdamK& k, size_t i0, size_t i1, float* w, const float* g,
                                                    float* m, float* v) {
  const __m512 b1 = _mm512_set1_ps(k.b1), omb1 = _mm512_set1_ps(k.omb1), b2 = _mm512_set1_ps(k.b2);
  const __m512 omb2 = _mm512_set1_ps(k.omb2), c1 = _mm512_set1_ps(k.c1), c2 = _mm512_set1_ps(k.c2);
  const __m512 lr = _mm512_set1_ps(k.lr), eps = _mm512_set1_ps(k.eps);
  size_t i = i0;
  for (; i + 16 <= i1; i += 16) {
    const __m512 gi = _mm512_loadu_ps(g + i);
    const __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(omb1, gi));
    const __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)), _mm512_mul_ps(_mm512_mul_ps(omb2, gi), gi));
    _mm512_storeu_ps(m + i, mi);
    _mm512_storeu_ps(v + i, vi);
    const __m512 step =
        _mm512_div_ps(_mm512_mul_ps(lr, _mm512_div_ps(mi, c1)), _mm512_add_ps(_mm512_sqrt_ps(_mm512_div_ps(vi, c2)), eps));
    _mm512_storeu_ps(w + i, _mm512_sub_ps(_mm512_loadu_ps(w + i), step));
  }
  adam_scalar(k, i, i1, w, g, m, v);
}

#pragma GCC diagnostic pop

}  // namespace

void adadelta_update(size_t n, const AdadeltaParams& p,
                     float* w,             // (n)
                     const float* g,       // (n)
                     float* accum_grad,    // (n)
                     float* accum_delta) { // (n)
  const AdadeltaK k{p.rho, 1.0f - p.rho, p.eps, p.lr};
  const bool wide = has_avx512();
  for_blocks(n, [&](size_t i0, size_t i1) {
    if (wide)
      adadelta_avx512(k, i0, i1, w, g, accum_grad, accum_delta);
    else
      adadelta_sse(k, i0, i1, w, g, accum_grad, accum_delta);
  });
}

void sgd_update(size_t n, const SgdParams& p,
                float* w,          // (n)
                const float* g,    // (n)
                float* velocity) { // (n)
  const float momentum = p.momentum, lr = p.lr;
  for_blocks(n, [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const float v = momentum * velocity[i] + g[i];
      velocity[i] = v;
      w[i] -= lr * v;
    }
  });
}

void adam_update(size_t n, const AdamParams& p,
                 float* w,        // (n)
                 const float* g,  // (n)
                 float* m,        // (n)
                 float* v) {      // (n)
  // bias corrections in double, as the reference
  const float c1 = float(1.0 - std::pow(double(p.beta1), double(p.t)));
  const float c2 = float(1.0 - std::pow(double(p.beta2), double(p.t)));
  const AdamK k{p.beta1, 1.0f - p.beta1, p.beta2, 1.0f - p.beta2, c1, c2, p.lr, p.eps};
  const bool wide = has_avx512();
  for_blocks(n, [&](size_t i0, size_t i1) {
    if (wide)
      adam_avx512(k, i0, i1, w, g, m, v);
    else
      adam_sse(k, i0, i1, w, g, m, v);
  });
}

}  // namespace digits::cpu
