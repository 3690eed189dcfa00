// Optimised CPU augment_batch (host/ops.h): per image, the random transform and the elastic control
// nodes are drawn once (10 Philox calls give the 37 numbers); per row, a vectorised pass computes every
// source point in float, then a scalar pass samples the image. Column and row positions on the control
// grid are precomputed per call. Images are spread over threads; each is independent, so results do not
// depend on the thread count. cuda/kernels/augment.cu evaluates the same expressions in the same order.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"
#include "philox.h"

namespace digits::cpu {

namespace {

// u_k = philox_uniform(seed, 64 i + k) for k = 0..39: elements 64i..64i+39 are the four words of the
// Philox calls with counters 16i..16i+9 (bit for bit what philox_uniform returns, 10 calls instead of 40).
void draw_uniforms(uint64_t seed, int i, float (&u)[40]) {
  for (int m = 0; m < 10; ++m) {
    const uint64_t j = 16 * uint64_t(i) + uint64_t(m);
    const Philox4 r = philox4x32_10(uint32_t(j), uint32_t(j >> 32), 0u, 0u, uint32_t(seed), uint32_t(seed >> 32));
    for (int q = 0; q < 4; ++q) u[4 * m + q] = float(r.v[q] >> 8) * (1.0f / 16777216.0f);
  }
}

// Where pixel coordinate t (0..n-1) falls on the 4-node control grid: node in 0..2 and fraction in [0, 1].
// A single row or column sits on the first node (as the reference).
struct GridPos {
  int node;
  float frac;
};
GridPos grid_pos(int t, int n) {
  const float g = n > 1 ? float(3 * t) / float(n - 1) : 0.f;
  const int node = std::min(int(g), 2);
  return {node, g - float(node)};
}

// floor(v) for -1 < v < 2^31 as an int: truncation, one less below zero. (Without SSE4.1 std::floor is a
// library call; this is a convert and a compare.)
inline int floor_int(float v) {
  const int t = int(v);
  return float(t) > v ? t - 1 : t;
}

// Pixel (y, x), 0 outside the image.
inline float at(const uint8_t* img, int H, int W, int y, int x) {
  return (y < 0 || y >= H || x < 0 || x >= W) ? 0.f : float(img[size_t(y) * W + x]);
}

// The map along one output row Y: xs = (ca Xp + x_row) + ex, ys = (y_row - sa Xp) + ey with Xp = X + hY,
// x_row = sa Y + (c_x - t_x), y_row = ca Y + (c_y - t_y); ex, ey: the row's elastic field at the four
// node columns.
struct RowMap {
  float ca, sa, hY, x_row, y_row;
  float ex[4], ey[4];
};

// Pass 1 (vectorised): the source point (ys[c], xs[c]) of every pixel c of the row.
void source_row(const RowMap& m, int W,
                const float* __restrict col_x,  // (W) centred column coordinate
                const float* __restrict col_w,  // (4, W) weights of the node columns
                float* __restrict xs, float* __restrict ys) {
  const float ca = m.ca, sa = m.sa, hY = m.hY, x_row = m.x_row, y_row = m.y_row;
  const float ex0 = m.ex[0], ex1 = m.ex[1], ex2 = m.ex[2], ex3 = m.ex[3];
  const float ey0 = m.ey[0], ey1 = m.ey[1], ey2 = m.ey[2], ey3 = m.ey[3];
  const float *w0 = col_w, *w1 = w0 + W, *w2 = w1 + W, *w3 = w2 + W;
  for (int c = 0; c < W; ++c) {
    const float ex = w0[c] * ex0 + w1[c] * ex1 + w2[c] * ex2 + w3[c] * ex3;
    const float ey = w0[c] * ey0 + w1[c] * ey1 + w2[c] * ey2 + w3[c] * ey3;
    const float Xp = col_x[c] + hY;
    xs[c] = ca * Xp + x_row + ex;
    ys[c] = y_row - sa * Xp + ey;
  }
}

// Bilinear interpolation of the image at (ys, xs), zeros outside.
inline float sample(const uint8_t* img, int H, int W, float ys, float xs) {
  if (!(xs > -1.f && xs < float(W) && ys > -1.f && ys < float(H))) return 0.f;  // all four neighbours outside
  const int c0 = floor_int(xs), r0 = floor_int(ys);
  const float fx = xs - float(c0), fy = ys - float(r0);
  float p00, p01, p10, p11;
  if (c0 >= 0 && c0 + 1 < W && r0 >= 0 && r0 + 1 < H) {
    const uint8_t* p = img + size_t(r0) * W + c0;
    p00 = p[0], p01 = p[1], p10 = p[W], p11 = p[W + 1];
  } else {
    p00 = at(img, H, W, r0, c0), p01 = at(img, H, W, r0, c0 + 1);
    p10 = at(img, H, W, r0 + 1, c0), p11 = at(img, H, W, r0 + 1, c0 + 1);
  }
  const float top = (1.f - fx) * p00 + fx * p01, bottom = (1.f - fx) * p10 + fx * p11;
  return (1.f - fy) * top + fy * bottom;
}

}  // namespace

// images (count, H, W), labels (count), index (n) -> x (n, H, W), labels_out (n): the map of host/ops.h.
void augment_batch(int n, int H, int W, const uint8_t* images, const uint8_t* labels, const int32_t* index,
                   const AugmentParams& a, uint64_t seed, float scale, float shift, float* x, int32_t* labels_out) {
  for (int i = 0; i < n; ++i) DIGITS_CHECK(index[i] >= 0, "augment_batch: negative index " << index[i] << " at " << i);
  if (n == 0) return;

  const size_t pixels = size_t(H) * W;
  const float cx = float(W - 1) / 2.f, cy = float(H - 1) / 2.f;
  // Per column (the same for every image): centred coordinate and the weights of the four node columns
  // in the elastic field, at most two of them nonzero: (1 - f) and f at nodes b and b + 1. Summing all
  // four gives the two-term interpolation bit for bit (the other terms add zeros; at most the sign of a
  // zero changes), without an indexed load, so the loop vectorises. Per row: centred coordinate and node
  // position.
  std::vector<float> col_x(W), col_w(4 * size_t(W), 0.f), row_y(H);
  std::vector<GridPos> row_g(H);
  for (int c = 0; c < W; ++c) {
    const GridPos g = grid_pos(c, W);
    col_x[c] = float(c) - cx;
    col_w[size_t(g.node) * W + c] = 1.f - g.frac;
    col_w[size_t(g.node + 1) * W + c] = g.frac;
  }
  for (int r = 0; r < H; ++r) row_y[r] = float(r) - cy, row_g[r] = grid_pos(r, H);
  constexpr float kDegToRad = std::numbers::pi_v<float> / 180.f;

  // ~50 operations and 4 gathers per pixel: worth threads from a few images on.
  const int nt = detail::threads();
  detail::ParallelErrors errors;
#pragma omp parallel for num_threads(nt) schedule(static) if (size_t(n) * pixels > detail::kParallelMin / 8)
  for (int i = 0; i < n; ++i) {
    errors.run([&] {
      const uint8_t* img = images + size_t(index[i]) * pixels;
      float* xi = x + size_t(i) * pixels;
      float* xs = detail::scratch(2 * size_t(W));  // source coordinates of one output row
      float* ys = xs + W;
      float u[40];
      draw_uniforms(seed, i, u);
      const auto sym = [&](int k) { return 2.f * u[k] - 1.f; };  // exact: u has 24 bits
      const float theta = a.rotate_deg * kDegToRad * sym(0);
      const float z = 1.f + a.zoom * sym(1);
      const float h = a.shear * sym(2);
      const float tx = a.translate * sym(3), ty = a.translate * sym(4);
      // (cos, sin) / z: with no rotation and zoom 1 these are exactly 1 and 0, so coordinates stay integers.
      const float ca = std::cos(theta) / z, sa = std::sin(theta) / z;
      const float ox = cx - tx, oy = cy - ty;
      float node_x[4][4], node_y[4][4];
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) {
          node_x[r][c] = a.elastic * sym(5 + 2 * (4 * r + c));
          node_y[r][c] = a.elastic * sym(6 + 2 * (4 * r + c));
        }

      for (int r = 0; r < H; ++r) {
        // The elastic field along this row: the four node columns interpolated between node rows.
        const GridPos gr = row_g[r];
        const float Y = row_y[r];
        RowMap m{ca, sa, h * Y, sa * Y + ox, ca * Y + oy, {}, {}};
        for (int b = 0; b < 4; ++b) {
          m.ex[b] = (1.f - gr.frac) * node_x[gr.node][b] + gr.frac * node_x[gr.node + 1][b];
          m.ey[b] = (1.f - gr.frac) * node_y[gr.node][b] + gr.frac * node_y[gr.node + 1][b];
        }
        source_row(m, W, col_x.data(), col_w.data(), xs, ys);
        // Pass 2: bilinear samples, zeros outside.
        float* out = xi + size_t(r) * W;
        for (int c = 0; c < W; ++c) out[c] = sample(img, H, W, ys[c], xs[c]) * scale + shift;
      }
      labels_out[i] = int32_t(labels[index[i]]);
    });
  }
  errors.rethrow();
}

}  // namespace digits::cpu
