// Augmented batches (host/ops.h augment_batch): one thread per output pixel. Grid y walks the images and
// grid x their pixels; each block first draws its image's 37 random numbers into shared memory (one
// philox_uniform per thread, the same function the CPU uses), then every thread maps its pixel to the
// source point and samples the image bilinearly. The float arithmetic follows host/cpu/cpu_augment.cpp.
#include <cmath>

#include "augment.cuh"
#include "launch.cuh"
#include "philox.h"

namespace digits::cuda {

namespace {
constexpr int kUniforms = 37;  // u_0..u_36 of each image
static_assert(kUniforms <= kBlock, "one thread per random number");
}  // namespace

// ---- kernels ------------------------------------------------------------------------------------------

// Position of pixel coordinate t (0..n-1) on the 4-node control grid: node in 0..2 and its fraction.
__device__ __forceinline__ int grid_node(int t, int n, float* frac) {
  const float g = n > 1 ? float(3 * t) / float(n - 1) : 0.f;  // IEEE division, as on the CPU
  const int node = min(int(g), 2);
  *frac = g - float(node);
  return node;
}

__device__ __forceinline__ float texel(const uint8_t* __restrict__ img, int H, int W, int y, int x) {
  return (y < 0 || y >= H || x < 0 || x >= W) ? 0.f : float(img[size_t(y) * W + x]);
}

// Contraction into FMAs changes the last bit of coordinates and weights against the CPU, which the
// continuous bilinear map turns into tiny value differences. With every parameter 0 all products are by
// exactly 1 or 0 and the coordinates are integers either way; only the final scale/shift must be rounded
// as two steps to equal gather_batch bit for bit.
__global__ void augment_batch_kernel(int n, int H, int W, const uint8_t* __restrict__ images,
                                     const uint8_t* __restrict__ labels, const int32_t* __restrict__ index,
                                     AugmentParams a, uint64_t seed, float scale, float shift, float* __restrict__ x,
                                     int32_t* __restrict__ labels_out) {
  __shared__ float u[kUniforms];
  const size_t pixels = size_t(H) * W;
  const size_t p = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const float cx = float(W - 1) / 2.f, cy = float(H - 1) / 2.f;
  constexpr float kDegToRad = 3.14159265358979323846f / 180.f;
  for (int i = blockIdx.y; i < n; i += gridDim.y) {
    if (threadIdx.x < kUniforms) u[threadIdx.x] = philox_uniform(seed, 64 * uint64_t(i) + threadIdx.x);
    __syncthreads();
    if (p < pixels) {
      const int r = int(p / W), c = int(p % W);
      const auto sym = [&](int k) { return 2.f * u[k] - 1.f; };  // exact: u has 24 bits
      const float theta = a.rotate_deg * kDegToRad * sym(0);
      const float z = 1.f + a.zoom * sym(1);
      const float h = a.shear * sym(2);
      const float tx = a.translate * sym(3), ty = a.translate * sym(4);
      const float ca = cosf(theta) / z, sa = sinf(theta) / z;

      // Elastic field: the control nodes around (r, c), interpolated between rows, then columns.
      float fr, fc;
      const int gr = grid_node(r, H, &fr), gc = grid_node(c, W, &fc);
      const auto node = [&](int k) { return a.elastic * sym(k); };
      const int k00 = 2 * (4 * gr + gc), k01 = k00 + 2, k10 = k00 + 8, k11 = k00 + 10;  // node (gr+., gc+.)
      const float ex0 = (1.f - fr) * node(5 + k00) + fr * node(5 + k10);
      const float ex1 = (1.f - fr) * node(5 + k01) + fr * node(5 + k11);
      const float ey0 = (1.f - fr) * node(6 + k00) + fr * node(6 + k10);
      const float ey1 = (1.f - fr) * node(6 + k01) + fr * node(6 + k11);
      const float ex = (1.f - fc) * ex0 + fc * ex1, ey = (1.f - fc) * ey0 + fc * ey1;

      const float X = float(c) - cx, Y = float(r) - cy, Xp = X + h * Y;
      const float xs = (ca * Xp + (sa * Y + (cx - tx))) + ex;
      const float ys = ((ca * Y + (cy - ty)) - sa * Xp) + ey;
      float v = 0.f;
      if (xs > -1.f && xs < float(W) && ys > -1.f && ys < float(H)) {  // else all four neighbours are outside
        const uint8_t* img = images + size_t(index[i]) * pixels;
        const float x0 = floorf(xs), y0 = floorf(ys);
        const float fx = xs - x0, fy = ys - y0;
        const int c0 = int(x0), r0 = int(y0);
        const float top = (1.f - fx) * texel(img, H, W, r0, c0) + fx * texel(img, H, W, r0, c0 + 1);
        const float bottom = (1.f - fx) * texel(img, H, W, r0 + 1, c0) + fx * texel(img, H, W, r0 + 1, c0 + 1);
        v = (1.f - fy) * top + fy * bottom;
      }
      // Rounded multiply then add, never fused: the same two roundings as the CPU's `v * scale + shift`.
      x[size_t(i) * pixels + p] = __fadd_rn(__fmul_rn(v, scale), shift);
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) labels_out[i] = labels[index[i]];
    __syncthreads();  // u is redrawn for the block's next image
  }
}

// ---- launchers ----------------------------------------------------------------------------------------

namespace launch {

void augment_batch(cudaStream_t st, int n, int H, int W, const uint8_t* images, const uint8_t* labels,
                   const int32_t* index, const AugmentParams& a, uint64_t seed, float scale, float shift, float* x,
                   int32_t* labels_out) {
  if (n <= 0) return;
  const dim3 grid(std::max(1u, blocks_for(size_t(H) * W)), unsigned(std::min(n, 65535)));
  augment_batch_kernel<<<grid, kBlock, 0, st>>>(n, H, W, images, labels, index, a, seed, scale, shift, x,
                                                labels_out);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace launch

// ---- ops ----------------------------------------------------------------------------------------------

// The index lives on the device and is not checked here (as gather_batch); shape and parameters are.
void augment_batch(int n, int H, int W, const uint8_t* images, const uint8_t* labels, const int32_t* index,
                   const AugmentParams& a, uint64_t seed, float scale, float shift, float* x, int32_t* labels_out) {
  DIGITS_CHECK(n >= 0 && H > 0 && W > 0, "augment_batch: bad shape n=" << n << " H=" << H << " W=" << W);
  for (const float p : {a.rotate_deg, a.zoom, a.shear, a.translate, a.elastic})
    DIGITS_CHECK(std::isfinite(p) && p >= 0.f, "augment_batch: parameter " << p << " is not finite and >= 0");
  DIGITS_CHECK(a.zoom < 1.f, "augment_batch: zoom " << a.zoom << " must be below 1 (the scale 1 +- zoom must stay > 0)");
  launch::augment_batch(current_stream(), n, H, W, images, labels, index, a, seed, scale, shift, x, labels_out);
  DIGITS_CUDA_AFTER_OP("augment_batch");
}

}  // namespace digits::cuda
