// The tolerance table and the element-wise + relative-L2 comparison behind expect_close, without
// GoogleTest, so that the op harness (tests/harness) can use it inside digits-bench as well.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>

namespace digits::testing {

struct Tol {
  double atol, rtol, l2;
};

// clang-format off
// Where each number comes from: float32 has 24 bits (6e-8 relative); element-wise ops are exact up to one
// rounding; reductions and softmax sum up to a few thousand terms in a different order; conv and gemm
// sum up to ~10^4 products in blocked order (and cuDNN/cuBLAS pick their own). TF32 (10-bit mantissa)
// would need ~1e-2 and is always switched off in tests.
inline constexpr Tol kExact      {0, 0, 0};  // same bits: max pooling, dropout masks, integer outputs
inline constexpr Tol kElementwise {1e-6, 1e-6, 1e-6};
inline constexpr Tol kReduction   {1e-5, 1e-5, 1e-5};
inline constexpr Tol kConvGemm    {1e-5, 1e-4, 1e-4};
inline constexpr Tol kOptimizer   {1e-6, 1e-5, 1e-5};
// accumulate_stats' double sums, added in a different order on each backend
inline constexpr Tol kStats       {1e-9, 1e-9, 1e-9};
// augment_batch: the float coordinates carry a few ulp of |coordinate| <~ 40, i.e. ~1e-5 pixel; the
// bilinear map has slope at most 255 per pixel, so values differ by ~1e-5 of their range 255 |scale|;
// 1e-4 of the range leaves a margin of ten. For MNIST's scale 1 / (255 * 0.3081) the range is 3.2457.
inline constexpr Tol augment_tol(double scale) { return Tol{1e-4 * 255.0 * (scale < 0 ? -scale : scale), 0.0, 1e-5}; }
// batchnorm dgamma and dbeta sum M = N*HW terms of either sign: their float rounding grows with M, not
// with the (possibly cancelled) result, so the absolute tolerance scales with M.
inline Tol batchnorm_sum_tol(double M) { return Tol{std::fmax(1e-5, 1e-8 * M), 1e-5, 1e-4}; }
// conv and gemm with a long reduction: float rounding of a sum grows with its length, so beyond ~2000
// terms the absolute tolerance grows with it (a dense layer of 9216 inputs: 4.6e-5).
inline Tol gemm_tol(double terms) { return Tol{std::fmax(kConvGemm.atol, 5e-9 * terms), kConvGemm.rtol, kConvGemm.l2}; }
// finite differences in double: central difference error O(h^2) with h = 1e-4 on smooth functions
inline constexpr Tol kGradCheck   {1e-6, 1e-4, 1e-5};
// clang-format on

// The outcome of comparing n values against the expected ones: ok, the worst element (by how far it
// exceeds its allowance), its absolute and relative error, and a text naming all of it.
struct CloseReport {
  bool ok = true;
  double worst_abs = 0, worst_rel = 0;
  std::string text;
};

template <class A, class E>
CloseReport close_report(const A* a, const E* e, size_t n, Tol tol) {
  size_t bad = 0, worst = 0;
  double worst_excess = -1, diff2 = 0, ref2 = 0, max_abs = 0, max_rel = 0;
  std::ostringstream first;
  for (size_t i = 0; i < n; ++i) {
    const double av = double(a[i]), ev = double(e[i]);
    const double d = std::fabs(av - ev);
    const double allowed = tol.atol + tol.rtol * std::fabs(ev);
    const bool ok = std::isfinite(av) && std::isfinite(ev) ? d <= allowed : (std::isnan(av) == std::isnan(ev) && av == ev);
    if (std::isfinite(d)) max_abs = std::fmax(max_abs, d), max_rel = std::fmax(max_rel, ev != 0 ? d / std::fabs(ev) : 0);
    if (!ok) {
      if (bad < 5) first << "  [" << i << "] got " << av << " want " << ev << "\n";
      ++bad;
      const double excess = std::isfinite(d) ? d - allowed : std::numeric_limits<double>::infinity();
      if (excess > worst_excess) worst_excess = excess, worst = i;
    }
    if (std::isfinite(d)) diff2 += d * d;
    ref2 += ev * ev;
  }
  const double rel_l2 = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  CloseReport r;
  r.worst_abs = max_abs;
  r.worst_rel = max_rel;
  if (bad == 0 && rel_l2 <= tol.l2) return r;
  std::ostringstream os;
  os << bad << " of " << n << " elements outside atol " << tol.atol << " + rtol " << tol.rtol << "; relative L2 "
     << rel_l2 << " (limit " << tol.l2 << "); worst absolute error " << max_abs << ", worst relative error " << max_rel;
  if (bad) os << "; worst [" << worst << "] got " << double(a[worst]) << " want " << double(e[worst]) << "\n" << first.str();
  r.ok = false;
  r.text = os.str();
  return r;
}

}  // namespace digits::testing
