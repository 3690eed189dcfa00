// Shape descriptions shared by every op implementation (reference, cpu, cuda).
// Dimensions follow cuDNN: N images, C input channels, H x W input, K output channels, R x S filter, P x Q output.
#pragma once

#include <cstddef>
#include <cstdint>

namespace digits {

// 2-D convolution, stride 1, symmetric zero padding `pad` (0 = "valid", (R-1)/2 = "same" for odd R).
struct ConvShape {
  int N = 0, C = 0, H = 0, W = 0;  // input  (N, C, H, W)
  int K = 0, R = 0, S = 0;         // weight (K, C, R, S), PyTorch OIHW
  int pad = 0;
  int P() const { return H + 2 * pad - R + 1; }  // output height
  int Q() const { return W + 2 * pad - S + 1; }  // output width
  size_t in_size() const { return size_t(N) * C * H * W; }
  size_t weight_size() const { return size_t(K) * C * R * S; }
  size_t out_size() const { return size_t(N) * K * P() * Q(); }
};

// Max pooling with a square window `size` and stride `size`; output is floor(H/size) x floor(W/size)
// (trailing rows/columns that do not fill a window are dropped, as in Keras and PyTorch).
struct PoolShape {
  int N = 0, C = 0, H = 0, W = 0;
  int size = 2;
  int P() const { return H / size; }
  int Q() const { return W / size; }
  size_t in_size() const { return size_t(N) * C * H * W; }
  size_t out_size() const { return size_t(N) * C * P() * Q(); }
};

// Fully connected layer: y (N, out) = x (N, in) * W^T, W stored (out, in) as PyTorch's nn.Linear.
struct DenseShape {
  int N = 0, in = 0, out = 0;
};

// Bounds of the random training-time augmentation (augment_batch in host/ops.h has the exact map).
// Each transform parameter is drawn uniformly in [-bound, bound]; all zero = no augmentation.
struct AugmentParams {
  float rotate_deg = 0.f;  // rotation, degrees
  float zoom = 0.f;        // scale factor 1 +- zoom
  float shear = 0.f;       // horizontal shear x += shear * y
  float translate = 0.f;   // shift in pixels, x and y independently
  float elastic = 0.f;     // displacement of each node of a 4x4 control grid, pixels
};

// Hyper-parameters of the optimizers. Adadelta defaults are Keras's (lr 1.0, rho 0.95, eps 1e-7).
struct AdadeltaParams {
  float lr = 1.0f, rho = 0.95f, eps = 1e-7f;
};
struct SgdParams {
  float lr = 0.01f, momentum = 0.9f;
};
struct AdamParams {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-7f;
  int64_t t = 1;  // 1-based step number, used for bias correction
};

}  // namespace digits
