// Finite-difference gradient checks in double: random inputs, a dot product for the loss <y, G>, and the
// central-difference gradient of a scalar loss with respect to every element of a vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace digits::testing {

using Vec = std::vector<double>;

// n doubles uniform in [lo, hi) from a fixed seed.
inline Vec random_doubles(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  Vec v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Central differences of the scalar loss(v) with respect to every element of v (v is restored).
inline Vec numeric_gradient(Vec& v, const std::function<double()>& loss, double h = 1e-4) {
  Vec g(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double keep = v[i];
    v[i] = keep + h;
    const double up = loss();
    v[i] = keep - h;
    const double down = loss();
    v[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

}  // namespace digits::testing
