// Optimised CPU ReLU and inverted dropout. The dropout mask is recomputed from Philox4x32-10 keyed by
// (seed, element index), 16 counters per vector with AVX-512 (or 8 with AVX2), chosen at run time so
// the binary stays portable; the numbers are bit-identical to digits::philox_uniform (host/philox.h).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"
#include "philox.h"

namespace digits::cpu {
namespace {

// ---- dropout: one block = 16 Philox counters = 64 consecutive elements ---------------------------
// Element i uses word (i & 3) of the Philox block at counter i / 4 (host/philox.h), so a block of 16
// counters starting at j0 covers elements 4*j0 .. 4*j0 + 63.
constexpr int kCounters = 16;
constexpr size_t kBlockElems = 4 * kCounters;

struct DropoutArgs {
  uint64_t seed;
  float rate, scale;
};

// Any part of a block, one element at a time (tails, and CPUs without AVX2).
void dropout_block_scalar(const DropoutArgs& a, uint64_t j0, const float* in, float* out, size_t count) {
  for (size_t e = 0; e < count; e += 4) {
    const uint64_t j = j0 + e / 4;
    const Philox4 r = philox4x32_10(uint32_t(j), uint32_t(j >> 32), 0u, 0u, uint32_t(a.seed), uint32_t(a.seed >> 32));
    for (size_t m = 0; m < 4 && e + m < count; ++m) {
      const float u = float(r.v[m] >> 8) * (1.0f / 16777216.0f);
      out[e + m] = u >= a.rate ? in[e + m] * a.scale : 0.f;
    }
  }
}

// GCC 12 warns about the deliberately undefined registers inside its own AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// A full block with AVX-512: the 16 counters are the 16 lanes; the Philox rounds run on vectors, the
// 4x16 words are transposed into element order, and the mask is applied 16 floats at a time.
__attribute__((target("avx512f"))) void dropout_block_avx512(const DropoutArgs& a, uint64_t j0, const float* in,
                                                            float* out) {
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // j0 is a multiple of 16, so the low word never wraps inside the block
  __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(int(uint32_t(j0))), lane);
  __m512i c1 = _mm512_set1_epi32(int(uint32_t(j0 >> 32)));
  __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
  uint32_t k0 = uint32_t(a.seed), k1 = uint32_t(a.seed >> 32);
  const __m512i m0 = _mm512_set1_epi64(0xD2511F53u), m1 = _mm512_set1_epi64(0xCD9E8D57u);
  for (int round = 0; round < 10; ++round) {
    // 32x32 -> 64-bit products of the even lanes, then of the odd lanes shifted down
    const __m512i p0e = _mm512_mul_epu32(c0, m0), p0o = _mm512_mul_epu32(_mm512_srli_epi64(c0, 32), m0);
    const __m512i p1e = _mm512_mul_epu32(c2, m1), p1o = _mm512_mul_epu32(_mm512_srli_epi64(c2, 32), m1);
    const __m512i lo0 = _mm512_mask_blend_epi32(0xAAAA, p0e, _mm512_slli_epi64(p0o, 32));
    const __m512i hi0 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(p0e, 32), p0o);
    const __m512i lo1 = _mm512_mask_blend_epi32(0xAAAA, p1e, _mm512_slli_epi64(p1o, 32));
    const __m512i hi1 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(p1e, 32), p1o);
    const __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(int(k0)));
    const __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(int(k1)));
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  // transpose: v[k] = words of counters 4k..4k+3, i.e. elements 16k..16k+15 in order
  const __m512i t0 = _mm512_unpacklo_epi32(c0, c1), t1 = _mm512_unpackhi_epi32(c0, c1);
  const __m512i t2 = _mm512_unpacklo_epi32(c2, c3), t3 = _mm512_unpackhi_epi32(c2, c3);
  const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
  const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
  const __m512i s0 = _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i s1 = _mm512_shuffle_i32x4(u2, u3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m512i s2 = _mm512_shuffle_i32x4(u0, u1, _MM_SHUFFLE(3, 2, 3, 2));
  const __m512i s3 = _mm512_shuffle_i32x4(u2, u3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m512i v[4] = {_mm512_shuffle_i32x4(s0, s1, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm512_shuffle_i32x4(s0, s1, _MM_SHUFFLE(3, 1, 3, 1)),
                        _mm512_shuffle_i32x4(s2, s3, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm512_shuffle_i32x4(s2, s3, _MM_SHUFFLE(3, 1, 3, 1))};
  const __m512 rate = _mm512_set1_ps(a.rate), scale = _mm512_set1_ps(a.scale), unit = _mm512_set1_ps(1.0f / 16777216.0f);
  for (int k = 0; k < 4; ++k) {
    const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(v[k], 8)), unit);  // exact, as philox_uniform
    const __mmask16 keep = _mm512_cmp_ps_mask(u, rate, _CMP_GE_OQ);
    _mm512_storeu_ps(out + 16 * k, _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(in + 16 * k), scale));
  }
}

// Half a block (8 counters, 32 elements) with AVX2, the same steps on 256-bit vectors.
__attribute__((target("avx2"))) void dropout_half_avx2(const DropoutArgs& a, uint64_t j0, const float* in, float* out) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(int(uint32_t(j0))), lane);
  __m256i c1 = _mm256_set1_epi32(int(uint32_t(j0 >> 32)));
  __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
  uint32_t k0 = uint32_t(a.seed), k1 = uint32_t(a.seed >> 32);
  const __m256i m0 = _mm256_set1_epi64x(0xD2511F53u), m1 = _mm256_set1_epi64x(0xCD9E8D57u);
  for (int round = 0; round < 10; ++round) {
    const __m256i p0e = _mm256_mul_epu32(c0, m0), p0o = _mm256_mul_epu32(_mm256_srli_epi64(c0, 32), m0);
    const __m256i p1e = _mm256_mul_epu32(c2, m1), p1o = _mm256_mul_epu32(_mm256_srli_epi64(c2, 32), m1);
    const __m256i lo0 = _mm256_blend_epi32(p0e, _mm256_slli_epi64(p0o, 32), 0xAA);
    const __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(p0e, 32), p0o, 0xAA);
    const __m256i lo1 = _mm256_blend_epi32(p1e, _mm256_slli_epi64(p1o, 32), 0xAA);
    const __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(p1e, 32), p1o, 0xAA);
    const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(int(k0)));
    const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(int(k1)));
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  const __m256i t0 = _mm256_unpacklo_epi32(c0, c1), t1 = _mm256_unpackhi_epi32(c0, c1);
  const __m256i t2 = _mm256_unpacklo_epi32(c2, c3), t3 = _mm256_unpackhi_epi32(c2, c3);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i v[4] = {_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u2, u3, 0x20),
                        _mm256_permute2x128_si256(u0, u1, 0x31), _mm256_permute2x128_si256(u2, u3, 0x31)};
  const __m256 rate = _mm256_set1_ps(a.rate), scale = _mm256_set1_ps(a.scale), unit = _mm256_set1_ps(1.0f / 16777216.0f);
  for (int k = 0; k < 4; ++k) {
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v[k], 8)), unit);
    const __m256 keep = _mm256_cmp_ps(u, rate, _CMP_GE_OQ);
    _mm256_storeu_ps(out + 8 * k, _mm256_and_ps(keep, _mm256_mul_ps(_mm256_loadu_ps(in + 8 * k), scale)));
  }
}

#pragma GCC diagnostic pop

// out[i] = in[i] * scale where philox_uniform(seed, i) >= rate, else 0, for i in [0, n).
void dropout_apply(size_t n, float rate, uint64_t seed, const float* in, float* out) {
  const detail::Isa isa = detail::isa();
  const DropoutArgs a{seed, rate, 1.0f / (1.0f - rate)};  // scale rounded to float as in the reference
  const long blocks = long((n + kBlockElems - 1) / kBlockElems);
  const int nt = detail::threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (n > detail::kParallelMin)
  for (long b = 0; b < blocks; ++b) {
    const size_t i0 = size_t(b) * kBlockElems, count = std::min(kBlockElems, n - i0);
    const uint64_t j0 = uint64_t(b) * kCounters;
    if (count < kBlockElems || isa == detail::Isa::Base) {
      dropout_block_scalar(a, j0, in + i0, out + i0, count);
    } else if (isa == detail::Isa::Avx512) {
      dropout_block_avx512(a, j0, in + i0, out + i0);
    } else {
      dropout_half_avx2(a, j0, in + i0, out + i0);
      dropout_half_avx2(a, j0 + kCounters / 2, in + i0 + kBlockElems / 2, out + i0 + kBlockElems / 2);
    }
  }
}

}  // namespace

void relu_forward(size_t n, const float* x, float* y) {
  const int nt = detail::threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (n > detail::kParallelMin)
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = v > 0.f ? v : 0.f;
  }
}

void relu_backward(size_t n, const float* y, const float* dy, float* dx) {
  const int nt = detail::threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (n > detail::kParallelMin)
  for (size_t i = 0; i < n; ++i) {
    const float g = dy[i];  // loaded unconditionally, so the loop vectorises
    dx[i] = y[i] > 0.f ? g : 0.f;
  }
}

void dropout_forward(size_t n, float rate, uint64_t seed, const float* x, float* y) {
  dropout_apply(n, rate, seed, x, y);
}

void dropout_backward(size_t n, float rate, uint64_t seed, const float* dy, float* dx) {
  dropout_apply(n, rate, seed, dy, dx);
}

}  // namespace digits::cpu
