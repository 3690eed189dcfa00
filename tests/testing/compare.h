// expect_close(actual, expected, tol): element-wise |a - e| <= atol + rtol |e| AND relative L2
// ||a - e|| / ||e|| <= l2. On failure prints the worst index, both values, the mismatch count and the
// first few mismatching pairs. All tolerances live in the table below.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace digits::testing {

struct Tol {
  double atol, rtol, l2;
};

// clang-format off
// Where each number comes from: float32 has 24 bits (6e-8 relative); element-wise ops are exact up to one
// rounding; reductions and softmax sum up to a few thousand terms in a different order; conv and gemm
// sum up to ~10^4 products in blocked order (and cuDNN/cuBLAS pick their own). TF32 (10-bit mantissa)
// would need ~1e-2 and is always switched off in tests.
inline constexpr Tol kElementwise {1e-6, 1e-6, 1e-6};
inline constexpr Tol kReduction   {1e-5, 1e-5, 1e-5};
inline constexpr Tol kConvGemm    {1e-5, 1e-4, 1e-4};
inline constexpr Tol kOptimizer   {1e-6, 1e-5, 1e-5};
// finite differences in double: central difference error O(h^2) with h = 1e-4 on smooth functions
inline constexpr Tol kGradCheck   {1e-6, 1e-4, 1e-5};
// clang-format on

template <class A, class E>
::testing::AssertionResult close(const A* a, const E* e, size_t n, Tol tol) {
  size_t bad = 0, worst = 0;
  double worst_excess = -1, diff2 = 0, ref2 = 0;
  std::ostringstream first;
  for (size_t i = 0; i < n; ++i) {
    const double av = double(a[i]), ev = double(e[i]);
    const double d = std::fabs(av - ev);
    const double allowed = tol.atol + tol.rtol * std::fabs(ev);
    const bool ok = std::isfinite(av) && std::isfinite(ev) ? d <= allowed : (std::isnan(av) == std::isnan(ev) && av == ev);
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
  if (bad == 0 && rel_l2 <= tol.l2) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os << bad << " of " << n << " elements outside atol " << tol.atol << " + rtol " << tol.rtol
     << "; relative L2 " << rel_l2 << " (limit " << tol.l2 << ")";
  if (bad) os << "; worst [" << worst << "] got " << double(a[worst]) << " want " << double(e[worst]) << "\n" << first.str();
  return ::testing::AssertionFailure() << os.str();
}

template <class A, class E>
::testing::AssertionResult close(const std::vector<A>& a, const std::vector<E>& e, Tol tol) {
  if (a.size() != e.size())
    return ::testing::AssertionFailure() << "size " << a.size() << " vs expected " << e.size();
  return close(a.data(), e.data(), a.size(), tol);
}

#define EXPECT_CLOSE(actual, expected, tol) EXPECT_TRUE(::digits::testing::close(actual, expected, tol))

// Random floats in [lo, hi) from a fixed seed.
inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// An output buffer poisoned with NaN, so any element an op forgets to write fails the comparison.
inline std::vector<float> poisoned(size_t n) { return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()); }

}  // namespace digits::testing
