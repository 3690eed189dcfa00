// Reference augment_batch: the random affine + elastic resampling of host/ops.h written out as plain
// loops in double, one output pixel at a time. The test oracle for the cpu and cuda versions.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "error.h"
#include "philox.h"
#include "reference/reference_impl.h"

namespace digits::reference::typed {

namespace {

// Pixel (y, x) of an H x W image, 0 outside it.
double pixel(const uint8_t* img, int H, int W, long long y, long long x) {
  if (y < 0 || y >= H || x < 0 || x >= W) return 0.0;
  return double(img[size_t(y) * W + size_t(x)]);
}

// Bilinear interpolation of the image at (ys, xs), zero outside. A point at or beyond one pixel past
// the border has all four neighbours outside (and huge coordinates must not reach the integer cast).
double bilinear(const uint8_t* img, int H, int W, double ys, double xs) {
  if (!(xs > -1.0 && xs < double(W) && ys > -1.0 && ys < double(H))) return 0.0;
  const double y0 = std::floor(ys), x0 = std::floor(xs);
  const double fy = ys - y0, fx = xs - x0;
  const long long r = (long long)y0, c = (long long)x0;
  const double top = (1 - fx) * pixel(img, H, W, r, c) + fx * pixel(img, H, W, r, c + 1);
  const double bottom = (1 - fx) * pixel(img, H, W, r + 1, c) + fx * pixel(img, H, W, r + 1, c + 1);
  return (1 - fy) * top + fy * bottom;
}

// Position of pixel coordinate t (0..n-1) on the 4-node control grid: node index and fraction.
// A single row or column (n = 1) sits on the first node.
void grid_pos(int t, int n, int* node, double* frac) {
  const double g = n > 1 ? double(t) * 3.0 / double(n - 1) : 0.0;  // in [0, 3]
  *node = std::min(int(std::floor(g)), 2);
  *frac = g - *node;
}

}  // namespace

void augment_batch(int n, int H, int W,
                   const uint8_t* images,  // (count, H, W)
                   const uint8_t* labels,  // (count)
                   const int32_t* index,   // (n)
                   const AugmentParams& a, uint64_t seed, float scale, float shift,
                   float* x,               // (n, H, W)
                   int32_t* labels_out) {  // (n)
  const size_t pixels = size_t(H) * W;
  const double cx = (W - 1) / 2.0, cy = (H - 1) / 2.0;
  for (int i = 0; i < n; ++i) {
    DIGITS_CHECK(index[i] >= 0, "augment_batch: negative index " << index[i] << " at " << i);
    const uint8_t* img = images + size_t(index[i]) * pixels;
    // u(k) = philox_uniform(seed, 64 i + k), mapped to [-1, 1)
    const auto sym = [&](int k) { return 2.0 * double(philox_uniform(seed, 64 * uint64_t(i) + uint64_t(k))) - 1.0; };
    const double theta = double(a.rotate_deg) * std::numbers::pi / 180.0 * sym(0);
    const double z = 1.0 + double(a.zoom) * sym(1);
    const double h = double(a.shear) * sym(2);
    const double tx = double(a.translate) * sym(3), ty = double(a.translate) * sym(4);
    double node_x[4][4], node_y[4][4];  // displacement of control node (row a, column b)
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c) {
        node_x[r][c] = double(a.elastic) * sym(5 + 2 * (4 * r + c));
        node_y[r][c] = double(a.elastic) * sym(6 + 2 * (4 * r + c));
      }
    const double ct = std::cos(theta), st = std::sin(theta);
    for (int r = 0; r < H; ++r)
      for (int c = 0; c < W; ++c) {
        int ga, gb;
        double fa, fb;
        grid_pos(r, H, &ga, &fa);
        grid_pos(c, W, &gb, &fb);
        const auto field = [&](const double (&e)[4][4]) {
          return (1 - fa) * ((1 - fb) * e[ga][gb] + fb * e[ga][gb + 1]) +
                 fa * ((1 - fb) * e[ga + 1][gb] + fb * e[ga + 1][gb + 1]);
        };
        const double X = c - cx, Y = r - cy, Xp = X + h * Y;
        const double xs = (ct * Xp + st * Y) / z + cx - tx + field(node_x);
        const double ys = (-st * Xp + ct * Y) / z + cy - ty + field(node_y);
        const float value = float(bilinear(img, H, W, ys, xs));
        x[size_t(i) * pixels + size_t(r) * W + c] = value * scale + shift;
      }
    labels_out[i] = int32_t(labels[index[i]]);
  }
}

}  // namespace digits::reference::typed
