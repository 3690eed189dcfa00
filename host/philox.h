// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"), a counter-based RNG:
// the random number for element i depends only on (seed, i), so dropout masks are identical on every
// backend and can be recomputed in backward. Plain C++ that nvcc also compiles for the device.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define DIGITS_HD __host__ __device__ __forceinline__
#else
#define DIGITS_HD inline
#endif

namespace digits {

struct Philox4 {
  uint32_t v[4];
};

DIGITS_HD uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = uint64_t(a) * uint64_t(b);
  *hi = uint32_t(p >> 32);
  return uint32_t(p);
}

// Ten rounds of Philox4x32 on counter (c0..c3) with key (k0, k1).
DIGITS_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(0xD2511F53u, c0, &hi0);
    const uint32_t lo1 = philox_mulhilo(0xCD9E8D57u, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform float in [0, 1) with 24 random bits for element `i` of the stream `seed`.
// Elements 4j..4j+3 share one Philox call (counter j), each taking one of its four words.
DIGITS_HD float philox_uniform(uint64_t seed, uint64_t i) {
  const uint64_t j = i >> 2;
  const Philox4 r = philox4x32_10(uint32_t(j), uint32_t(j >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
  return float(r.v[i & 3] >> 8) * (1.0f / 16777216.0f);
}

}  // namespace digits
