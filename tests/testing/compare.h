// expect_close(actual, expected, tol): element-wise |a - e| <= atol + rtol |e| AND relative L2
// ||a - e|| / ||e|| <= l2. On failure prints the worst index, both values, the mismatch count and the
// first few mismatching pairs, and the worst absolute and relative error. The tolerances live in one
// table in testing/tolerance.h.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "testing/tolerance.h"

namespace digits::testing {

template <class A, class E>
::testing::AssertionResult close(const A* a, const E* e, size_t n, Tol tol) {
  const CloseReport r = close_report(a, e, n, tol);
  if (r.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.text;
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
