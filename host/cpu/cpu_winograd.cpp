// Winograd F(2x2, 3x3) convolutions for the CPU (see cpu_winograd.h). The output is cut into 2x2
// tiles, each read from a 4x4 input tile. Per block of tile rows (about 112 tiles, so the transformed
// data stays in L2): transform inputs V = B^T d B, run 16 products M = U V (U = G g G^T), transform back
// y = A^T M A. Backward data runs the adjoint of these steps on dy (blocks of whole images, overlap-adding
// B dV B^T); backward filter sums (A dy A^T) V^T over blocks in fixed chunks, then G^T . G. The forward
// and backward-data products run on a register-tiled kernel of our own (6 rows x 16 tiles, AVX2+FMA, or
// plain loops below AVX2) over operands the transforms write already packed; OpenBLAS measured 45-50% of
// the FMA peak on these short (C or K = 16..64) products, the kernel 90%+. Backward filter's products
// (summed over tiles) run on the same kernel, one operand read in plain rows, the other transposed into
// panels per block. All products run single-threaded inside our OpenMP regions, one block per task.
// Transform matrices (Lavin & Gray 2016):
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1]. Index xi = 4a + b of a transformed tile: a vertical, b horizontal.
#include "cpu/cpu_winograd.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>

#include "cpu/cpu_common.h"
#include "error.h"

namespace digits::cpu::detail {
namespace {

// About this many tiles per block (whole tile rows). Chosen when OpenBLAS ran the products (~96 columns
// for its full speed); with our kernel, passes of 24 output channels (so that V and the rows of M in use
// stay in a 512 KiB L2 for C + K = 96) measured no faster on the presets' shapes, so it stays.
constexpr int kTargetTiles = 112;
// Backward filter: this many partial sums per call at most (as the im2col path).
constexpr int kFilterChunks = 16;

// Scratch slots (per thread): V, M, the calling thread's U / partial sums, row buffers, the packed
// filters (forward, backward data) or backward filter's panelled operand.
constexpr int kSlotV = 0, kSlotM = 1, kSlotU = 2, kSlotPartial = 3, kSlotRows = 4, kSlotPacked = 5;

// Tiles are stored TQ + 1 per tile row: the extra one is junk (computed, never stored), which turns
// every transform into one long unit-stride loop over the block instead of many loops of TQ.
struct Tiling {
  explicit Tiling(const ConvShape& s)
      : P(s.P()), Q(s.Q()), TP((P + 1) / 2), TQ((Q + 1) / 2), L(TQ + 1), rows_per_block(std::max(1, kTargetTiles / L)) {
    total_rows = long(s.N) * TP;
    nblocks = (total_rows + rows_per_block - 1) / rows_per_block;
  }
  long first_row(long b) const { return b * rows_per_block; }
  int rows_in(long b) const { return int(std::min<long>(rows_per_block, total_rows - b * rows_per_block)); }
  size_t max_tiles() const { return size_t(rows_per_block) * L; }
  int P, Q, TP, TQ, L, rows_per_block;  // L: stored tiles per tile row
  long total_rows, nblocks;
};

// Distance in floats between the 16 planes of V, M or Mg holding n floats each. The transforms read or
// write all 16 planes at once: a distance that is a multiple of 4 KiB would put the 16 streams in one
// set of the 8-way L1 cache (and alias loads with stores), so the distance is padded to an odd number
// of cache lines modulo 4 KiB.
size_t plane_stride(size_t n) {
  size_t s = (n + 15) / 16 * 16;
  if ((s / 16) % 2 == 0) s += 16;
  return s;
}
size_t planes_size(size_t n) { return 16 * plane_stride(n); }

// ---- the products' kernel ----------------------------------------------------------------------
// C (R, cols) = A (R, D) B (D, cols) with A packed in panels of kMR rows, [R / kMR][D][kMR] (the last
// panel zero-padded), and B in panels of kNR columns, [cols / kNR][D][kNR]: every load is contiguous.
constexpr int kMR = 6, kNR = 16;
int round_up(int n, int m) { return (n + m - 1) / m * m; }

// Where tile t of channel r of one transformed plane lives: rows of `ld` floats (backward filter reads
// them), or panels of kNR tiles holding every channel, [t / kNR][r][t % kNR] (the kernel's B operand;
// ld is then the tile count rounded up to kNR).
struct PlaneLayout {
  int rows, ld;
  bool panels;
  size_t at(int r, int t) const {
    return panels ? (size_t(t / kNR) * rows + r) * kNR + t % kNR : size_t(r) * ld + t;
  }
  int run(int t, int n) const { return panels ? std::min(n, kNR - t % kNR) : n; }  // contiguous tiles from t
  size_t stride() const { return plane_stride(size_t(rows) * ld); }              // between the 16 planes
};

// Zero tiles [T, ld) of all 16 panelled planes: the product then reads finite values there (the
// transforms call it after writing their T tiles).
void zero_padding(const PlaneLayout& lay, int T, float* planes) {
  if (!lay.panels || T == lay.ld) return;
  for (int xi = 0; xi < 16; ++xi)
    for (int r = 0; r < lay.rows; ++r) std::fill_n(planes + xi * lay.stride() + lay.at(r, T), lay.ld - T, 0.f);
}

// A (R, D), element (r, d) at src[r * rs + d * ds], packed in panels of kMR rows.
void pack_rows(int R, int D, const float* src, size_t rs, size_t ds, float* out) {
  for (int i = 0; i < R; i += kMR)
    for (int d = 0; d < D; ++d)
      for (int m = 0; m < kMR; ++m) *out++ = i + m < R ? src[size_t(i + m) * rs + size_t(d) * ds] : 0.f;
}

// The accumulators must stay in registers: every loop over them is unrolled (GCC otherwise keeps the
// array on the stack and stores it on every step, at a third of the speed). A is packed (element (i, d)
// at a[d * kMR + i]) or, with Rows, plain rows lda apart (at a[i * lda + d]); `add` adds C's old values.
template <int MR, bool Rows>
__attribute__((target("avx2,fma"))) void tile_avx2(int D, const float* a, size_t lda, const float* b, float* c,
                                                   size_t ldc, bool add) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = add ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
    acc[i][1] = add ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
  }
  for (int d = 0; d < D; ++d) {
    const __m256 b0 = _mm256_loadu_ps(b + d * kNR), b1 = _mm256_loadu_ps(b + d * kNR + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(Rows ? a + i * lda + d : a + d * kMR + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    _mm256_storeu_ps(c + i * ldc, acc[i][0]);
    _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
  }
}

template <int MR, bool Rows>
void tile_base(int D, const float* a, size_t lda, const float* b, float* c, size_t ldc, bool add) {
  float acc[MR][kNR] = {};
  if (add)
    for (int i = 0; i < MR; ++i) std::copy_n(c + i * ldc, kNR, acc[i]);
  for (int d = 0; d < D; ++d)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < kNR; ++j) acc[i][j] += (Rows ? a[i * lda + d] : a[d * kMR + i]) * b[d * kNR + j];
  for (int i = 0; i < MR; ++i) std::copy_n(acc[i], kNR, c + i * ldc);
}

using Tile = void (*)(int, const float*, size_t, const float*, float*, size_t, bool);
template <bool Avx2, bool Rows, int... M>
constexpr std::array<Tile, kMR> make_tiles(std::integer_sequence<int, M...>) {
  return {(Avx2 ? tile_avx2<M + 1, Rows> : tile_base<M + 1, Rows>)...};
}

// C (R, cols), row stride ldc, (+)= A B for A packed (or plain rows lda apart, Rows) and panelled B (cols
// a multiple of kNR). Each element is one sum over d in order (after C's old value, with `add`), whatever
// the machine's threads; AVX2 and the plain loops round differently.
template <bool Avx2, bool Rows = false>
void panel_product(int R, int D, int cols, const float* A, size_t lda, const float* Bp, float* C, size_t ldc,
                   bool add) {
  static constexpr auto tiles = make_tiles<Avx2, Rows>(std::make_integer_sequence<int, kMR>());
  for (int j = 0; j < cols; j += kNR)
    for (int i = 0; i < R; i += kMR)
      tiles[std::min(kMR, R - i) - 1](D, A + size_t(i) * (Rows ? lda : D), lda, Bp + size_t(j) * D,
                                      C + size_t(i) * ldc + j, ldc, add);
}

// The 16 products C[xi] = A[xi] B[xi] of one block (A: 16 packed (R, D); B: 16 panelled (D, cols)).
void products(bool avx2, int R, int D, int cols, const float* Ap, const float* B, size_t bstride, float* C,
              size_t cstride, size_t ldc) {
  const size_t astride = size_t(round_up(R, kMR)) * D;
  for (int xi = 0; xi < 16; ++xi)
    (avx2 ? panel_product<true> : panel_product<false>)(R, D, cols, Ap + xi * astride, 0, B + xi * bstride,
                                                          C + xi * cstride, ldc, false);
}

// The 8 x 8 block src[r * ld + t] (r, t < 8) written transposed, dst[t * ldd + r].
__attribute__((target("avx2"))) void transpose8_avx2(const float* src, size_t ld, float* dst, size_t ldd) {
  __m256 r[8], u[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld);
  for (int i = 0; i < 8; i += 2) {
    u[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    u[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {  // 4 x 4 blocks within each 128-bit lane
    r[i] = _mm256_shuffle_ps(u[i], u[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(u[i], u[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// B (T, Rp) = the plain rows src (R, T), row stride ld, transposed into panels of kNR rows,
// [Rp / kNR][T][kNR]; rows [R, Rp) are zero (Rp a multiple of kNR).
void pack_panels(bool avx2, int R, int Rp, int T, const float* src, size_t ld, float* out) {
  for (int r0 = 0; r0 < Rp; r0 += 8) {
    float* panel = out + size_t(r0 / kNR) * T * kNR + r0 % kNR;
    int t = 0;
    if (avx2 && r0 + 8 <= R)
      for (; t + 8 <= T; t += 8) transpose8_avx2(src + size_t(r0) * ld + t, ld, panel + size_t(t) * kNR, kNR);
    for (; t < T; ++t)
      for (int m = 0; m < 8; ++m) panel[size_t(t) * kNR + m] = r0 + m < R ? src[size_t(r0 + m) * ld + t] : 0.f;
  }
}

// ---- transforms --------------------------------------------------------------------------------
// U = G g G^T for every filter g = w[k][c], 16 planes (plane_stride apart) of (K, C); with `flip`, g
// is w[c][k] rotated by 180 degrees, i.e. w is (C, K, 3, 3): the filters of the backward-data
// convolution.
void filter_transform(int K, int C, const float* w, bool flip, float* U) {
  const size_t KC = plane_stride(size_t(K) * C);
  for (int k = 0; k < K; ++k)
    for (int c = 0; c < C; ++c) {
      float g[3][3];
      for (int r = 0; r < 3; ++r)
        for (int t = 0; t < 3; ++t)
          g[r][t] = flip ? w[((size_t(c) * K + k) * 3 + (2 - r)) * 3 + (2 - t)] : w[((size_t(k) * C + c) * 3 + r) * 3 + t];
      float T[4][3];  // G g
      for (int t = 0; t < 3; ++t) {
        T[0][t] = g[0][t];
        T[1][t] = 0.5f * (g[0][t] + g[1][t] + g[2][t]);
        T[2][t] = 0.5f * (g[0][t] - g[1][t] + g[2][t]);
        T[3][t] = g[2][t];
      }
      for (int a = 0; a < 4; ++a) {  // (G g) G^T
        const float u[4] = {T[a][0], 0.5f * (T[a][0] + T[a][1] + T[a][2]), 0.5f * (T[a][0] - T[a][1] + T[a][2]), T[a][2]};
        for (int b = 0; b < 4; ++b) U[size_t(4 * a + b) * KC + size_t(k) * C + c] = u[b];
      }
    }
}

// The loops below run over all stored tiles of a block, vectorised (omp simd: the many streams never
// overlap, which the compiler cannot prove by itself); they are also compiled for AVX2 and AVX-512
// and picked at run time. Only additions and subtractions: every version gives the same bits.
#define DIGITS_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

// v[xi][f] = (B^T d B)[xi] for F tiles. D0 and D1 hold the even and odd zero-padded input rows of a
// segment with row stride 2L: tile f = li*L + j starts at column 2f of row li of D0 (its tile row 0),
// D1 (row 1), and at 2(f + L) for tile rows 2 and 3.
DIGITS_SIMD_CLONES void input_tiles(int F, int L, const float* D0, const float* D1, float* const* v) {
  float *v0 = v[0], *v1 = v[1], *v2 = v[2], *v3 = v[3], *v4 = v[4], *v5 = v[5], *v6 = v[6], *v7 = v[7];
  float *v8 = v[8], *v9 = v[9], *v10 = v[10], *v11 = v[11], *v12 = v[12], *v13 = v[13], *v14 = v[14], *v15 = v[15];
  const float* D2 = D0 + 2 * L;
  const float* D3 = D1 + 2 * L;
#pragma omp simd
  for (int f = 0; f < F; ++f) {
    // horizontal transform d B of each tile row
    const float* p0 = D0 + 2 * f;
    const float* p1 = D1 + 2 * f;
    const float* p2 = D2 + 2 * f;
    const float* p3 = D3 + 2 * f;
    const float a0 = p0[0] - p0[2], a1 = p0[1] + p0[2], a2 = p0[2] - p0[1], a3 = p0[1] - p0[3];
    const float b0 = p1[0] - p1[2], b1 = p1[1] + p1[2], b2 = p1[2] - p1[1], b3 = p1[1] - p1[3];
    const float c0 = p2[0] - p2[2], c1 = p2[1] + p2[2], c2 = p2[2] - p2[1], c3 = p2[1] - p2[3];
    const float d0 = p3[0] - p3[2], d1 = p3[1] + p3[2], d2 = p3[2] - p3[1], d3 = p3[1] - p3[3];
    // vertical: B^T times the rows (a, b, c, d)
    v0[f] = a0 - c0, v1[f] = a1 - c1, v2[f] = a2 - c2, v3[f] = a3 - c3;
    v4[f] = b0 + c0, v5[f] = b1 + c1, v6[f] = b2 + c2, v7[f] = b3 + c3;
    v8[f] = c0 - b0, v9[f] = c1 - b1, v10[f] = c2 - b2, v11[f] = c3 - b3;
    v12[f] = b0 - d0, v13[f] = b1 - d1, v14[f] = b2 - d2, v15[f] = b3 - d3;
  }
}

// T tiles of one output channel, A^T m A of tile t written as columns 2t, 2t + 1 of the output-row
// planes Y0 (tile row 0) and Y1 (tile row 1), row stride 2L.
DIGITS_SIMD_CLONES void output_tiles(int T, const float* const* m, float* Y0, float* Y1) {
  const float *m0 = m[0], *m1 = m[1], *m2 = m[2], *m3 = m[3], *m4 = m[4], *m5 = m[5], *m6 = m[6], *m7 = m[7];
  const float *m8 = m[8], *m9 = m[9], *m10 = m[10], *m11 = m[11], *m12 = m[12], *m13 = m[13], *m14 = m[14];
  const float* m15 = m[15];
#pragma omp simd
  for (int t = 0; t < T; ++t) {
    // A^T m: row 0 = m[0..3] + m[4..7] + m[8..11], row 1 = m[4..7] - m[8..11] - m[12..15]
    const float p0 = m0[t] + m4[t] + m8[t], p1 = m1[t] + m5[t] + m9[t];
    const float p2 = m2[t] + m6[t] + m10[t], p3 = m3[t] + m7[t] + m11[t];
    const float q0 = m4[t] - m8[t] - m12[t], q1 = m5[t] - m9[t] - m13[t];
    const float q2 = m6[t] - m10[t] - m14[t], q3 = m7[t] - m11[t] - m15[t];
    // times A
    Y0[2 * t] = p0 + p1 + p2, Y0[2 * t + 1] = p1 - p2 - p3;
    Y1[2 * t] = q0 + q1 + q2, Y1[2 * t + 1] = q1 - q2 - q3;
  }
}

// T tiles of one output-gradient channel: mg[xi][t] = (A dY A^T)[xi], with dY rows 0 and 1 of tile t
// at columns 2t, 2t + 1 of the planes G0 and G1.
DIGITS_SIMD_CLONES void gradient_tiles(int T, const float* G0, const float* G1, float* const* mg) {
  float *g0 = mg[0], *g1 = mg[1], *g2 = mg[2], *g3 = mg[3], *g4 = mg[4], *g5 = mg[5], *g6 = mg[6], *g7 = mg[7];
  float *g8 = mg[8], *g9 = mg[9], *g10 = mg[10], *g11 = mg[11], *g12 = mg[12], *g13 = mg[13], *g14 = mg[14];
  float* g15 = mg[15];
#pragma omp simd
  for (int t = 0; t < T; ++t) {
    const float e0 = G0[2 * t], o0 = G0[2 * t + 1], e1 = G1[2 * t], o1 = G1[2 * t + 1];
    // A dY: rows dY0, dY0 + dY1, dY0 - dY1, -dY1 as (even, odd) pairs; then each row times A^T
    const float te0 = e0, te1 = e0 + e1, te2 = e0 - e1, te3 = -e1;
    const float to0 = o0, to1 = o0 + o1, to2 = o0 - o1, to3 = -o1;
    g0[t] = te0, g1[t] = te0 + to0, g2[t] = te0 - to0, g3[t] = -to0;
    g4[t] = te1, g5[t] = te1 + to1, g6[t] = te1 - to1, g7[t] = -to1;
    g8[t] = te2, g9[t] = te2 + to2, g10[t] = te2 - to2, g11[t] = -to2;
    g12[t] = te3, g13[t] = te3 + to3, g14[t] = te3 - to3, g15[t] = -to3;
  }
}

// The adjoint of input_tiles: dd[rs] = (B dV B^T)[r][s] for T tiles from the 16 planes dV[4a + b].
DIGITS_SIMD_CLONES void input_tiles_adjoint(int T, const float* const* dv, float* const* dd) {
  const float *v0 = dv[0], *v1 = dv[1], *v2 = dv[2], *v3 = dv[3], *v4 = dv[4], *v5 = dv[5], *v6 = dv[6], *v7 = dv[7];
  const float *v8 = dv[8], *v9 = dv[9], *v10 = dv[10], *v11 = dv[11], *v12 = dv[12], *v13 = dv[13], *v14 = dv[14];
  const float* v15 = dv[15];
  float *d0 = dd[0], *d1 = dd[1], *d2 = dd[2], *d3 = dd[3], *d4 = dd[4], *d5 = dd[5], *d6 = dd[6], *d7 = dd[7];
  float *d8 = dd[8], *d9 = dd[9], *d10 = dd[10], *d11 = dd[11], *d12 = dd[12], *d13 = dd[13], *d14 = dd[14];
  float* d15 = dd[15];
#pragma omp simd
  for (int t = 0; t < T; ++t) {
    // vertical: B times the rows a of dV: e_r[b]
    const float e00 = v0[t], e01 = v1[t], e02 = v2[t], e03 = v3[t];
    const float e10 = v4[t] - v8[t] + v12[t], e11 = v5[t] - v9[t] + v13[t];
    const float e12 = v6[t] - v10[t] + v14[t], e13 = v7[t] - v11[t] + v15[t];
    const float e20 = v4[t] + v8[t] - v0[t], e21 = v5[t] + v9[t] - v1[t];
    const float e22 = v6[t] + v10[t] - v2[t], e23 = v7[t] + v11[t] - v3[t];
    const float e30 = -v12[t], e31 = -v13[t], e32 = -v14[t], e33 = -v15[t];
    // horizontal: each row times B^T
    d0[t] = e00, d1[t] = e01 - e02 + e03, d2[t] = e01 + e02 - e00, d3[t] = -e03;
    d4[t] = e10, d5[t] = e11 - e12 + e13, d6[t] = e11 + e12 - e10, d7[t] = -e13;
    d8[t] = e20, d9[t] = e21 - e22 + e23, d10[t] = e21 + e22 - e20, d11[t] = -e23;
    d12[t] = e30, d13[t] = e31 - e32 + e33, d14[t] = e31 + e32 - e30, d15[t] = -e33;
  }
}

// Overlap-add of one quarter of every tile into the row planes: rows r0, r0 + 1 and columns s0, s0 + 1
// of tile f land in D[r0 & 1 ...] at 2 f + s0 (+ 2L for the lower tile rows). Within one call no two
// tiles touch the same element, so the loop vectorises; four calls in a fixed order cover the tiles.
DIGITS_SIMD_CLONES void add_quarter(int T, int off, const float* a, const float* b, const float* c, const float* d,
                                    float* D0, float* D1) {
  float* p0 = D0 + off;
  float* p1 = D1 + off;
#pragma omp simd
  for (int t = 0; t < T; ++t) {
    p0[2 * t] += a[t], p0[2 * t + 1] += b[t];
    p1[2 * t] += c[t], p1[2 * t + 1] += d[t];
  }
}

// V = B^T d B for the block rows [row0, row0 + rows): 16 planes (lay.stride() apart) of C channels,
// tile (lr, j) is tile lr*L + j of the layout; a panelled layout's padding tiles are zeroed.
void input_transform(const ConvShape& s, const Tiling& g, const float* x, long row0, int rows, const PlaneLayout& lay,
                     float* V) {
  const int L = g.L, width = 2 * L;  // width >= W + 2 pad, since Q = W + 2 pad - 2
  const size_t CT = lay.stride(), plane = size_t(rows + 1) * width + 4;  // +4: junk tile reads
  float* buf = scratch(2 * plane, kSlotRows);
  float* D[2] = {buf, buf + plane};
  // segments: consecutive tile rows of one image share their input rows
  for (int lr = 0; lr < rows;) {
    const long gr = row0 + lr;
    const int n = int(gr / g.TP), i = int(gr % g.TP), rs = std::min(rows - lr, g.TP - i);
    // zero-padded rows 2(i + li) + p of the segment, li in [0, rs]: zeroed once, then every channel
    // copies its rows over the same places (the padding stays zero)
    std::memset(buf, 0, sizeof(float) * 2 * plane);
    for (int c = 0; c < s.C; ++c) {
      const float* xc = x + (size_t(n) * s.C + c) * s.H * s.W;
      for (int li = 0; li <= rs; ++li)
        for (int p = 0; p < 2; ++p) {
          const int h = 2 * (i + li) + p - s.pad;
          if (h < 0 || h >= s.H) continue;
          const float* src = xc + size_t(h) * s.W;
          float* dst = D[p] + size_t(li) * width + s.pad;
#pragma omp simd
          for (int w = 0; w < s.W; ++w) dst[w] = src[w];
        }
      for (int f = 0; f < rs * L;) {  // runs of tiles contiguous in the layout
        const int t = lr * L + f, count = lay.run(t, rs * L - f);
        float* v[16];
        for (int xi = 0; xi < 16; ++xi) v[xi] = V + xi * CT + lay.at(c, t);
        input_tiles(count, L, D[0] + 2 * f, D[1] + 2 * f, v);
        f += count;
      }
    }
    lr += rs;
  }
  zero_padding(lay, rows * L, V);
}

// y tiles = A^T m A from M (16 planes of (K, T), rows ld apart) for the block rows [row0, row0 + rows);
// junk tiles are dropped.
void output_transform(const ConvShape& s, const Tiling& g, const float* M, int ld, long row0, int rows, float* y) {
  const int L = g.L, T = rows * L, P = g.P, Q = g.Q;
  const size_t KT = plane_stride(size_t(s.K) * ld);
  float* buf = scratch(4 * size_t(T), kSlotRows);
  float *Y0 = buf, *Y1 = buf + 2 * T;
  for (int k = 0; k < s.K; ++k) {
    const float* m[16];
    for (int xi = 0; xi < 16; ++xi) m[xi] = M + xi * KT + size_t(k) * ld;
    output_tiles(T, m, Y0, Y1);
    for (int lr = 0; lr < rows; ++lr) {
      const long gr = row0 + lr;
      const int n = int(gr / g.TP), i = int(gr % g.TP);
      const float* src = Y0 + size_t(lr) * 2 * L;
      float* y0 = y + ((size_t(n) * s.K + k) * P + 2 * i) * Q;
#pragma omp simd
      for (int q = 0; q < Q; ++q) y0[q] = src[q];
      if (2 * i + 1 < P) {
        const float* src1 = Y1 + size_t(lr) * 2 * L;
        float* y1 = y0 + Q;
#pragma omp simd
        for (int q = 0; q < Q; ++q) y1[q] = src1[q];
      }
    }
  }
}

// Mg (16 planes of K channels in the layout) = A dY A^T for the output-gradient tiles of block rows
// [row0, row0 + rows). Outputs outside P x Q (the odd edge) and the junk tiles count as zero, so they add
// nothing to the filter gradient. A panelled layout's padding tiles are zeroed.
void gradient_transform(const ConvShape& s, const Tiling& g, const float* dy, long row0, int rows,
                        const PlaneLayout& lay, float* Mg) {
  const int L = g.L, T = rows * L, P = g.P, Q = g.Q, width = 2 * L;
  const size_t KT = lay.stride();
  float* buf = scratch(2 * size_t(rows) * width, kSlotRows);
  float *G0 = buf, *G1 = buf + size_t(rows) * width;
  // dY rows 2i and 2i + 1 of every tile row, zero beyond Q (and row 2i + 1 beyond P): zeroed once, then
  // every channel copies its rows over the same places
  std::memset(buf, 0, sizeof(float) * 2 * size_t(rows) * width);
  for (int k = 0; k < s.K; ++k) {
    for (int lr = 0; lr < rows; ++lr) {
      const long gr = row0 + lr;
      const int n = int(gr / g.TP), i = int(gr % g.TP);
      const float* r0 = dy + ((size_t(n) * s.K + k) * P + 2 * i) * Q;
      float* d0 = G0 + size_t(lr) * width;
      float* d1 = G1 + size_t(lr) * width;
#pragma omp simd
      for (int q = 0; q < Q; ++q) d0[q] = r0[q];
      if (2 * i + 1 < P) {
#pragma omp simd
        for (int q = 0; q < Q; ++q) d1[q] = r0[Q + q];
      }
    }
    for (int t = 0; t < T;) {  // runs of tiles contiguous in the layout
      const int n = lay.run(t, T - t);
      float* mg[16];
      for (int xi = 0; xi < 16; ++xi) mg[xi] = Mg + xi * KT + lay.at(k, t);
      gradient_tiles(n, G0 + 2 * t, G1 + 2 * t, mg);
      t += n;
    }
  }
  zero_padding(lay, T, Mg);
}

// ---- the forward convolution over all blocks ---------------------------------------------------
// y = conv(x, filters whose transform is Ap (16 packed (K, C), packed_filters)), s is the (possibly
// backward-data) shape.
void forward_with(const ConvShape& s, const float* x, const float* Ap, float* y) {
  const Tiling g(s);
  const bool avx2 = isa() >= Isa::Avx2;
  const size_t max_cols = size_t(round_up(int(g.max_tiles()), kNR));
  ParallelErrors errors;
#pragma omp parallel for num_threads(threads()) schedule(dynamic, 1)
  for (long b = 0; b < g.nblocks; ++b) {
    errors.run([&] {
      const long row0 = g.first_row(b);
      const int rows = g.rows_in(b), T = rows * g.L, Tp = round_up(T, kNR);
      const PlaneLayout vl{s.C, Tp, true};
      float* V = scratch(planes_size(size_t(s.C) * max_cols), kSlotV);
      float* M = scratch(planes_size(size_t(s.K) * max_cols), kSlotM);
      input_transform(s, g, x, row0, rows, vl, V);
      products(avx2, s.K, s.C, Tp, Ap, V, vl.stride(), M, plane_stride(size_t(s.K) * Tp), Tp);
      output_transform(s, g, M, Tp, row0, rows, y);
    });
  }
  errors.rethrow();
}

// dx = the adjoint of the forward Winograd convolution, applied to dy: Mg = A dY A^T (gradient_transform),
// dV = U^T Mg (16 products, Ap packed as U^T), then dd = B dV B^T overlap-added into the padded input
// rows. Blocks hold whole images, so no two blocks add into the same rows. Same tiles as the forward
// pass: 14% fewer products and a cheaper input side than convolving dy with the rotated filters.
void backward_data_adjoint(const ConvShape& s, const float* dy, const float* Ap, float* dx) {
  const Tiling g(s);
  const int L = g.L, width = 2 * L, per_image = g.TP * L;
  const int images = std::max(1, kTargetTiles / per_image);
  const long nblocks = (s.N + images - 1) / images;
  const bool avx2 = isa() >= Isa::Avx2;
  const size_t max_cols = size_t(round_up(images * per_image, kNR));
  ParallelErrors errors;
#pragma omp parallel for num_threads(threads()) schedule(dynamic, 1)
  for (long b = 0; b < nblocks; ++b) {
    errors.run([&] {
      const int n0 = int(b * images), nb = std::min(images, s.N - n0), T = nb * per_image, Tp = round_up(T, kNR);
      const PlaneLayout gl{s.K, Tp, true};
      const size_t ct = plane_stride(size_t(s.C) * Tp);
      float* dV = scratch(planes_size(size_t(s.C) * max_cols), kSlotV);
      float* Mg = scratch(planes_size(size_t(s.K) * max_cols), kSlotM);
      gradient_transform(s, g, dy, long(n0) * g.TP, nb * g.TP, gl, Mg);
      // dV[xi] (C, Tp) = U[xi]^T (C, K) Mg[xi] (K, Tp)
      products(avx2, s.C, s.K, Tp, Ap, Mg, gl.stride(), dV, ct, Tp);
      // per channel and image: 16 dd planes over the image's tiles, then the four quarters into the
      // (rows + 1) x 2L row planes of the padded image, then the image's rows out of the padding
      const size_t plane = size_t(g.TP + 1) * width + 4;  // +4: the junk tiles' spill, always zero
      float* buf = scratch(16 * size_t(per_image) + 2 * plane, kSlotRows);
      float* dd[16];
      for (int r = 0; r < 16; ++r) dd[r] = buf + size_t(r) * per_image;
      float* D0 = buf + 16 * size_t(per_image);
      float* D1 = D0 + plane;
      for (int c = 0; c < s.C; ++c)
        for (int in = 0; in < nb; ++in) {
          const float* dv[16];
          for (int xi = 0; xi < 16; ++xi) dv[xi] = dV + xi * ct + size_t(c) * Tp + size_t(in) * per_image;
          input_tiles_adjoint(per_image, dv, dd);
          std::memset(D0, 0, sizeof(float) * 2 * plane);
          // index rs = 4r + s; quarters in a fixed order: top-left, top-right, bottom-left, bottom-right
          add_quarter(per_image, 0, dd[0], dd[1], dd[4], dd[5], D0, D1);
          add_quarter(per_image, 2, dd[2], dd[3], dd[6], dd[7], D0, D1);
          add_quarter(per_image, width, dd[8], dd[9], dd[12], dd[13], D0, D1);
          add_quarter(per_image, width + 2, dd[10], dd[11], dd[14], dd[15], D0, D1);
          float* dxc = dx + (size_t(n0 + in) * s.C + c) * s.H * s.W;
          for (int h = 0; h < s.H; ++h) {  // padded row h + pad = 2 li + p
            const int hp = h + s.pad;
            const float* src = (hp & 1 ? D1 : D0) + size_t(hp >> 1) * width + s.pad;
            float* dst = dxc + size_t(h) * s.W;
#pragma omp simd
            for (int w = 0; w < s.W; ++w) dst[w] = src[w];
          }
        }
    });
  }
  errors.rethrow();
}

}  // namespace

// ---- public ------------------------------------------------------------------------------------
namespace {
std::atomic<bool> g_winograd_enabled{true};
}  // namespace

void set_winograd_enabled(bool on) { g_winograd_enabled.store(on); }
bool winograd_enabled() { return g_winograd_enabled.load(std::memory_order_relaxed); }

bool winograd_applicable(const ConvShape& s) {
  return winograd_enabled() && s.R == 3 && s.S == 3 && s.pad <= 2 && s.C >= 16 && s.K >= 16 && s.P() >= 2 && s.Q() >= 2;
}

// The 16 transformed filter planes U[xi] = G g G^T of w (K, C) (flipped: of w read as (C, K), rotated 180
// degrees), packed as the products' A operand: U[xi] (K, C) for the forward convolution, U[xi]^T (C, K)
// for its adjoint (backward data). The calling thread's scratch.
static const float* packed_filters(int K, int C, const float* w, bool flip, bool adjoint) {
  float* U = scratch(planes_size(size_t(K) * C), kSlotU);
  filter_transform(K, C, w, flip, U);
  const int R = adjoint ? C : K, D = adjoint ? K : C;
  const size_t apanel = size_t(round_up(R, kMR)) * D;
  float* A = scratch(16 * apanel, kSlotPacked);
  for (int xi = 0; xi < 16; ++xi)
    pack_rows(R, D, U + xi * plane_stride(size_t(K) * C), adjoint ? 1 : size_t(C), adjoint ? size_t(C) : 1,
              A + xi * apanel);
  return A;
}

void winograd_forward(const ConvShape& s, const float* x, const float* w, float* y) {
  DIGITS_CHECK(winograd_applicable(s), "winograd: shape not supported");
  forward_with(s, x, packed_filters(s.K, s.C, w, false, false), y);
}

void winograd_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  DIGITS_CHECK(winograd_applicable(s), "winograd: shape not supported");
  const Tiling g(s);
  if (g.TP * g.L <= 4 * kTargetTiles) {  // images small enough to be whole blocks
    backward_data_adjoint(s, dy, packed_filters(s.K, s.C, w, false, true), dx);
    return;
  }
  // large images: dx = conv(dy padded by 2 - pad, w transposed to (C, K) and rotated by 180 degrees)
  const ConvShape t{s.N, s.K, s.P(), s.Q(), s.C, 3, 3, 2 - s.pad};
  DIGITS_CHECK(t.P() == s.H && t.Q() == s.W, "winograd: backward-data geometry");
  forward_with(t, dy, packed_filters(t.K, t.C, w, true, false), dx);
}

namespace {
// Backward filter's products per block, dU[xi] (K, C) += Mg[xi] (K, T) V[xi]^T, run as C (R, cols) +=
// A (R, T) B (T, cols): A the plain rows of one operand, B the other transposed into panels of kNR
// channels. The one transposed wastes the fewer padded channels (ties: has the fewer channels); when that
// is Mg (`swap`), the sums are dU^T (C, K). Partial sums: 16 planes of (R, cols) rows.
struct FilterProduct {
  explicit FilterProduct(const ConvShape& s)
      : swap(round_up(s.K, kNR) - s.K < round_up(s.C, kNR) - s.C ||
             (round_up(s.K, kNR) - s.K == round_up(s.C, kNR) - s.C && s.K < s.C)),
        R(swap ? s.C : s.K), B(swap ? s.K : s.C), cols(round_up(B, kNR)), stride(plane_stride(size_t(R) * cols)) {}
  size_t at(int k, int c) const { return swap ? size_t(c) * cols + k : size_t(k) * cols + c; }  // dU (k, c)
  // dU (+)= the products of one block's V (C) and Mg (K) planes of T tiles; Bp: scratch for the panels
  void run(bool avx2, int C, int K, int T, const float* V, const float* Mg, float* Bp, float* dU, bool add) const {
    for (int xi = 0; xi < 16; ++xi) {
      const float* v = V + xi * plane_stride(size_t(C) * T);
      const float* mg = Mg + xi * plane_stride(size_t(K) * T);
      pack_panels(avx2, B, cols, T, swap ? mg : v, T, Bp);
      (avx2 ? panel_product<true, true> : panel_product<false, true>)(R, T, cols, swap ? v : mg, T, Bp,
                                                                      dU + xi * stride, cols, add);
    }
  }
  bool swap;
  int R, B, cols;  // B: channels of the transposed operand
  size_t stride;   // between the 16 planes of dU
};
}  // namespace

void winograd_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  DIGITS_CHECK(winograd_applicable(s), "winograd: shape not supported");
  const Tiling g(s);
  const FilterProduct fp(s);
  const size_t usize = 16 * fp.stride;  // dU: 16 planes
  if (g.nblocks == 0) {
    std::fill(dw, dw + s.weight_size(), 0.f);
    return;
  }
  // chunks of consecutive blocks; their number depends on the shape only
  const long chunk = (g.nblocks + kFilterChunks - 1) / kFilterChunks;
  const long nchunks = (g.nblocks + chunk - 1) / chunk;
  const bool avx2 = isa() >= Isa::Avx2;
  float* partial = scratch(size_t(nchunks) * usize, kSlotPartial);
  ParallelErrors errors;
#pragma omp parallel for num_threads(threads()) schedule(dynamic, 1)
  for (long ci = 0; ci < nchunks; ++ci) {
    errors.run([&] {
      float* V = scratch(planes_size(size_t(s.C) * g.max_tiles()), kSlotV);
      float* Mg = scratch(planes_size(size_t(s.K) * g.max_tiles()), kSlotM);
      float* Bp = scratch(size_t(fp.cols) * g.max_tiles(), kSlotPacked);
      for (long b = ci * chunk; b < std::min(g.nblocks, (ci + 1) * chunk); ++b) {
        const long row0 = g.first_row(b);
        const int rows = g.rows_in(b), T = rows * g.L;
        input_transform(s, g, x, row0, rows, PlaneLayout{s.C, T, false}, V);
        gradient_transform(s, g, dy, row0, rows, PlaneLayout{s.K, T, false}, Mg);
        fp.run(avx2, s.C, s.K, T, V, Mg, Bp, partial + size_t(ci) * usize, b != ci * chunk);
      }
    });
  }
  errors.rethrow();
  // per filter (k, c): the chunks' sum in a fixed order, then dw = G^T dU G
#pragma omp parallel for num_threads(threads()) schedule(static) if (size_t(nchunks) * usize > kParallelMin)
  for (int k = 0; k < s.K; ++k)
    for (int c = 0; c < s.C; ++c) {
      float u[4][4];
      for (int xi = 0; xi < 16; ++xi) {
        const size_t at = xi * fp.stride + fp.at(k, c);
        float sum = partial[at];
        for (long ci = 1; ci < nchunks; ++ci) sum += partial[size_t(ci) * usize + at];
        u[xi / 4][xi % 4] = sum;
      }
      float T[3][4];  // G^T dU
      for (int b = 0; b < 4; ++b) {
        T[0][b] = u[0][b] + 0.5f * (u[1][b] + u[2][b]);
        T[1][b] = 0.5f * (u[1][b] - u[2][b]);
        T[2][b] = 0.5f * (u[1][b] + u[2][b]) + u[3][b];
      }
      float* out = dw + (size_t(k) * s.C + c) * 9;
      for (int r = 0; r < 3; ++r) {
        out[r * 3 + 0] = T[r][0] + 0.5f * (T[r][1] + T[r][2]);
        out[r * 3 + 1] = 0.5f * (T[r][1] - T[r][2]);
        out[r * 3 + 2] = 0.5f * (T[r][1] + T[r][2]) + T[r][3];
      }
    }
}

}  // namespace digits::cpu::detail
