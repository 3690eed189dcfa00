// Optimised CPU batch normalization. Every per-channel sum is computed by one thread in a fixed order
// (float partial sums in 16 lanes per row of HW values, rows added in double), so results do not
// depend on the thread count. Large planes (conv layers) spread channels over threads; small planes
// (HW < 16, e.g. after dense layers where HW = 1) walk the batch row by row into per-channel doubles,
// which keeps the memory access contiguous.
#include <omp.h>

#include <cmath>
#include <vector>

#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "error.h"

namespace digits::cpu {

namespace {

constexpr int kLanes = 16;
constexpr int kSmallPlane = 16;  // below this HW, per-channel work per row is too short to pay for itself

// sum of p[0, n), in 16 float lanes then double.
double row_sum(const float* p, int n) {
  float acc[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += p[i + j];
  double s = 0;
  for (int j = 0; j < kLanes; ++j) s += double(acc[j]);
  for (; i < n; ++i) s += double(p[i]);
  return s;
}

// sum of (p - mean)^2 over [0, n).
double row_sq_dev(const float* p, int n, float mean) {
  float acc[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float d = p[i + j] - mean;
      acc[j] += d * d;
    }
  double s = 0;
  for (int j = 0; j < kLanes; ++j) s += double(acc[j]);
  for (; i < n; ++i) {
    const double d = double(p[i]) - double(mean);
    s += d * d;
  }
  return s;
}

// sum of dy and of dy * (x - mean) over [0, n).
void row_grad_sums(const float* dy, const float* x, int n, float mean, double& sdy, double& sdyx) {
  float a[kLanes] = {}, b[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      a[j] += dy[i + j];
      b[j] += dy[i + j] * (x[i + j] - mean);
    }
  for (int j = 0; j < kLanes; ++j) sdy += double(a[j]), sdyx += double(b[j]);
  for (; i < n; ++i) sdy += double(dy[i]), sdyx += double(dy[i]) * (double(x[i]) - double(mean));
}

// Per-channel (mean, biased variance) of x (N, C, HW) in double.
void channel_stats(int N, int C, int HW, const float* x, std::vector<double>& mean, std::vector<double>& var) {
  const double M = double(N) * HW;
  mean.assign(size_t(C), 0.0);
  var.assign(size_t(C), 0.0);
  if (HW < kSmallPlane) {  // straight into per-channel doubles: a row is too short for lanes to pay
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c) {
        const float* xr = x + (size_t(n) * C + c) * HW;
        for (int i = 0; i < HW; ++i) mean[size_t(c)] += double(xr[i]);
      }
    for (auto& m : mean) m /= M;
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c) {
        const float* xr = x + (size_t(n) * C + c) * HW;
        for (int i = 0; i < HW; ++i) {
          const double d = double(xr[i]) - mean[size_t(c)];
          var[size_t(c)] += d * d;
        }
      }
    for (auto& v : var) v /= M;
    return;
  }
  const int nt = detail::threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (size_t(N) * C * HW > detail::kParallelMin)
  for (int c = 0; c < C; ++c) {
    double s = 0;
    for (int n = 0; n < N; ++n) s += row_sum(x + (size_t(n) * C + c) * HW, HW);
    const double m = s / M;
    double q = 0;
    for (int n = 0; n < N; ++n) q += row_sq_dev(x + (size_t(n) * C + c) * HW, HW, float(m));
    // The float mean leaves a small offset d = m - float(m): sum (x - fm)^2 = sum (x - m)^2 + M d^2.
    const double d = m - double(float(m));
    mean[size_t(c)] = m;
    var[size_t(c)] = std::max(0.0, q / M - d * d);
  }
}

// y = (x - m[c]) * a[c] + b[c] over (N, C, HW); x and y may alias. Subtracting the mean first keeps
// precision when |mean| >> std.
void affine(int N, int C, int HW, const float* x, const float* m, const float* a, const float* b, float* y) {
  const int nt = detail::threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (size_t(N) * C * HW > detail::kParallelMin)
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      const float mc = m[c], ac = a[c], bc = b[c];
      const float* xr = x + (size_t(n) * C + c) * HW;
      float* yr = y + (size_t(n) * C + c) * HW;
      for (int i = 0; i < HW; ++i) yr[i] = (xr[i] - mc) * ac + bc;
    }
}

}  // namespace

void batchnorm_forward_train(int N, int C, int HW, float eps, float momentum, const float* x, const float* gamma,
                             const float* beta, float* y, float* batch_mean, float* batch_inv_std,
                             float* running_mean, float* running_var) {
  std::vector<double> mean, var;
  channel_stats(N, C, HW, x, mean, var);
  const double M = double(N) * HW;
  std::vector<float> a(static_cast<size_t>(C));
  for (int c = 0; c < C; ++c) {
    const size_t k = size_t(c);
    const double inv_std = 1.0 / std::sqrt(var[k] + double(eps));
    a[k] = float(double(gamma[c]) * inv_std);
    batch_mean[c] = float(mean[k]);
    batch_inv_std[c] = float(inv_std);
    const double unbiased = M > 1 ? var[k] * M / (M - 1) : var[k];
    running_mean[c] = float((1.0 - momentum) * double(running_mean[c]) + momentum * mean[k]);
    running_var[c] = float((1.0 - momentum) * double(running_var[c]) + momentum * unbiased);
  }
  affine(N, C, HW, x, batch_mean, a.data(), beta, y);
}

void batchnorm_forward_infer(int N, int C, int HW, float eps, const float* x, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, float* y) {
  std::vector<float> a(static_cast<size_t>(C));
  for (int c = 0; c < C; ++c) a[size_t(c)] = float(double(gamma[c]) / std::sqrt(double(running_var[c]) + double(eps)));
  affine(N, C, HW, x, running_mean, a.data(), beta, y);
}

void batchnorm_backward(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                        const float* batch_mean, const float* batch_inv_std, float* dx, float* dgamma, float* dbeta) {
  const double M = double(N) * HW;
  std::vector<double> sdy(static_cast<size_t>(C), 0.0), sdyx(static_cast<size_t>(C), 0.0);
  if (HW < kSmallPlane) {  // as channel_stats: per-channel doubles, no lanes
    for (int n = 0; n < N; ++n)
      for (int c = 0; c < C; ++c) {
        const size_t at = (size_t(n) * C + c) * HW;
        const double m = double(batch_mean[c]);
        for (int i = 0; i < HW; ++i) {
          sdy[size_t(c)] += double(dy[at + i]);
          sdyx[size_t(c)] += double(dy[at + i]) * (double(x[at + i]) - m);
        }
      }
  } else {
    const int nt = detail::threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (size_t(N) * C * HW > detail::kParallelMin)
    for (int c = 0; c < C; ++c)
      for (int n = 0; n < N; ++n) {
        const size_t at = (size_t(n) * C + c) * HW;
        row_grad_sums(dy + at, x + at, HW, batch_mean[c], sdy[size_t(c)], sdyx[size_t(c)]);
      }
  }
  // dx = gamma inv_std (dy - sdy/M - (x - mean) inv_std^2 sdyx / M) = a dy + b (x - mean) + k
  std::vector<float> a(static_cast<size_t>(C)), b(static_cast<size_t>(C)), k(static_cast<size_t>(C));
  for (int c = 0; c < C; ++c) {
    const size_t i = size_t(c);
    const double is = double(batch_inv_std[c]), g = double(gamma[c]);
    const double sdyx_hat = sdyx[i] * is;  // sum dy * xhat
    a[i] = float(g * is);
    b[i] = float(-g * is * is * sdyx_hat / M);
    k[i] = float(-g * is * sdy[i] / M);
    dgamma[c] = float(sdyx_hat);
    dbeta[c] = float(sdy[i]);
  }
  const int nt = detail::threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (size_t(N) * C * HW > detail::kParallelMin)
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      const size_t at = (size_t(n) * C + c) * HW;
      const float mc = batch_mean[c], ac = a[size_t(c)], bc = b[size_t(c)], kc = k[size_t(c)];
      for (int i = 0; i < HW; ++i) dx[at + i] = dy[at + i] * ac + (x[at + i] - mc) * bc + kc;
    }
}

}  // namespace digits::cpu
