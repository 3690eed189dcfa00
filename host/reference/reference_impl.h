// The reference ops as plain loops, most of them templates over the scalar type T. The float versions are
// the digits::reference API (expanded from the op table in reference_backend.cpp); the double ones serve
// the finite-difference gradient checks. Sums accumulate in double whatever T is, so the oracle is more
// accurate than what it checks. Shape preconditions are the op table's (host/op_checks.h), checked by
// Backend before these run; the checks here are of values in the tensors (indices, labels).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "error.h"
#include "philox.h"
#include "shapes.h"

namespace digits::reference::typed {

// ---- convolution -------------------------------------------------------------------------------
template <class T>
void conv2d_forward(const ConvShape& s,
                    const T* x,  // (N, C, H, W)
                    const T* w,  // (K, C, R, S)
                    T* y) {      // (N, K, P, Q)
  const int P = s.P(), Q = s.Q();
  for (int n = 0; n < s.N; ++n)
    for (int k = 0; k < s.K; ++k)
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q) {
          double acc = 0;
          for (int c = 0; c < s.C; ++c)
            for (int r = 0; r < s.R; ++r)
              for (int t = 0; t < s.S; ++t) {
                const int h = p + r - s.pad, v = q + t - s.pad;
                if (h < 0 || h >= s.H || v < 0 || v >= s.W) continue;
                acc += double(x[((size_t(n) * s.C + c) * s.H + h) * s.W + v]) *
                       double(w[((size_t(k) * s.C + c) * s.R + r) * s.S + t]);
              }
          y[((size_t(n) * s.K + k) * P + p) * Q + q] = T(acc);
        }
}

// dx[n,c,h,v] = sum over k,r,t of dy[n,k,h-r+pad,v-t+pad] * w[k,c,r,t] (terms inside the output only).
template <class T>
void conv2d_backward_data(const ConvShape& s,
                          const T* dy,  // (N, K, P, Q)
                          const T* w,   // (K, C, R, S)
                          T* dx) {      // (N, C, H, W)
  const int P = s.P(), Q = s.Q();
  for (int n = 0; n < s.N; ++n)
    for (int c = 0; c < s.C; ++c)
      for (int h = 0; h < s.H; ++h)
        for (int v = 0; v < s.W; ++v) {
          double acc = 0;
          for (int k = 0; k < s.K; ++k)
            for (int r = 0; r < s.R; ++r)
              for (int t = 0; t < s.S; ++t) {
                const int p = h - r + s.pad, q = v - t + s.pad;
                if (p < 0 || p >= P || q < 0 || q >= Q) continue;
                acc += double(dy[((size_t(n) * s.K + k) * P + p) * Q + q]) *
                       double(w[((size_t(k) * s.C + c) * s.R + r) * s.S + t]);
              }
          dx[((size_t(n) * s.C + c) * s.H + h) * s.W + v] = T(acc);
        }
}

template <class T>
void conv2d_backward_filter(const ConvShape& s,
                            const T* x,   // (N, C, H, W)
                            const T* dy,  // (N, K, P, Q)
                            T* dw) {      // (K, C, R, S)
  const int P = s.P(), Q = s.Q();
  for (int k = 0; k < s.K; ++k)
    for (int c = 0; c < s.C; ++c)
      for (int r = 0; r < s.R; ++r)
        for (int t = 0; t < s.S; ++t) {
          double acc = 0;
          for (int n = 0; n < s.N; ++n)
            for (int p = 0; p < P; ++p)
              for (int q = 0; q < Q; ++q) {
                const int h = p + r - s.pad, v = q + t - s.pad;
                if (h < 0 || h >= s.H || v < 0 || v >= s.W) continue;
                acc += double(x[((size_t(n) * s.C + c) * s.H + h) * s.W + v]) *
                       double(dy[((size_t(n) * s.K + k) * P + p) * Q + q]);
              }
          dw[((size_t(k) * s.C + c) * s.R + r) * s.S + t] = T(acc);
        }
}

// ---- bias --------------------------------------------------------------------------------------
template <class T>
void bias_forward(int N, int C, int HW,
                  const T* b,  // (C)
                  T* y) {      // (N, C, HW), += b
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < HW; ++i) y[(size_t(n) * C + c) * HW + i] += b[c];
}

template <class T>
void bias_backward(int N, int C, int HW,
                   const T* dy,  // (N, C, HW)
                   T* db) {      // (C)
  for (int c = 0; c < C; ++c) {
    double acc = 0;
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < HW; ++i) acc += double(dy[(size_t(n) * C + c) * HW + i]);
    db[c] = T(acc);
  }
}

// ---- max pooling -------------------------------------------------------------------------------
template <class T>
void maxpool_forward(const PoolShape& s,
                     const T* x,         // (N, C, H, W)
                     T* y,               // (N, C, P, Q)
                     int32_t* argmax) {  // (N, C, P, Q), flat h*W+w within the plane
  const int P = s.P(), Q = s.Q();
  for (int n = 0; n < s.N; ++n)
    for (int c = 0; c < s.C; ++c) {
      const T* plane = x + (size_t(n) * s.C + c) * s.H * s.W;
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q) {
          int best = p * s.size * s.W + q * s.size;  // the window's first element in row-major order
          for (int i = 0; i < s.size; ++i)
            for (int j = 0; j < s.size; ++j) {
              const int idx = (p * s.size + i) * s.W + q * s.size + j;
              if (plane[idx] > plane[best]) best = idx;  // strict: the first maximum wins ties
            }
          const size_t o = ((size_t(n) * s.C + c) * P + p) * Q + q;
          y[o] = plane[best];
          argmax[o] = best;
        }
    }
}

template <class T>
void maxpool_backward(const PoolShape& s,
                      const T* dy,              // (N, C, P, Q)
                      const int32_t* argmax,    // (N, C, P, Q)
                      T* dx) {                  // (N, C, H, W)
  const int P = s.P(), Q = s.Q();
  const size_t plane = size_t(s.H) * s.W;
  for (size_t i = 0; i < s.in_size(); ++i) dx[i] = T(0);
  for (int n = 0; n < s.N; ++n)
    for (int c = 0; c < s.C; ++c)
      for (int o = 0; o < P * Q; ++o) {
        const size_t nc = size_t(n) * s.C + c;
        const int32_t a = argmax[nc * P * Q + o];
        DIGITS_CHECK(a >= 0 && size_t(a) < plane, "maxpool_backward: argmax " << a << " outside the plane");
        dx[nc * plane + size_t(a)] += dy[nc * P * Q + o];
      }
}

// ---- global average pooling ------------------------------------------------------------------------
template <class T>
void gap_forward(int N, int C, int HW,
                 const T* x,  // (N, C, HW)
                 T* y) {      // (N, C)
  for (size_t nc = 0; nc < size_t(N) * C; ++nc) {
    double acc = 0;
    for (int i = 0; i < HW; ++i) acc += double(x[nc * HW + i]);
    y[nc] = T(acc / HW);
  }
}

template <class T>
void gap_backward(int N, int C, int HW,
                  const T* dy,  // (N, C)
                  T* dx) {      // (N, C, HW)
  for (size_t nc = 0; nc < size_t(N) * C; ++nc)
    for (int i = 0; i < HW; ++i) dx[nc * HW + i] = T(double(dy[nc]) / HW);
}

// ---- dense -------------------------------------------------------------------------------------
template <class T>
void dense_forward(const DenseShape& s,
                   const T* x,  // (N, in)
                   const T* w,  // (out, in)
                   T* y) {      // (N, out)
  for (int n = 0; n < s.N; ++n)
    for (int o = 0; o < s.out; ++o) {
      double acc = 0;
      for (int i = 0; i < s.in; ++i) acc += double(x[size_t(n) * s.in + i]) * double(w[size_t(o) * s.in + i]);
      y[size_t(n) * s.out + o] = T(acc);
    }
}

template <class T>
void dense_backward_data(const DenseShape& s,
                         const T* dy,  // (N, out)
                         const T* w,   // (out, in)
                         T* dx) {      // (N, in)
  for (int n = 0; n < s.N; ++n)
    for (int i = 0; i < s.in; ++i) {
      double acc = 0;
      for (int o = 0; o < s.out; ++o) acc += double(dy[size_t(n) * s.out + o]) * double(w[size_t(o) * s.in + i]);
      dx[size_t(n) * s.in + i] = T(acc);
    }
}

template <class T>
void dense_backward_weight(const DenseShape& s,
                           const T* x,   // (N, in)
                           const T* dy,  // (N, out)
                           T* dw) {      // (out, in)
  for (int o = 0; o < s.out; ++o)
    for (int i = 0; i < s.in; ++i) {
      double acc = 0;
      for (int n = 0; n < s.N; ++n) acc += double(dy[size_t(n) * s.out + o]) * double(x[size_t(n) * s.in + i]);
      dw[size_t(o) * s.in + i] = T(acc);
    }
}

// ---- activations -------------------------------------------------------------------------------
template <class T>
void relu_forward(size_t n, const T* x, T* y) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <class T>
void relu_backward(size_t n, const T* y, const T* dy, T* dx) {
  for (size_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

// ---- dropout -----------------------------------------------------------------------------------
// The scale 1/(1-rate) is rounded to float on every backend, so masks and values agree exactly.
inline float dropout_scale(float rate) { return 1.0f / (1.0f - rate); }

template <class T>
void dropout_forward(size_t n, float rate, uint64_t seed, const T* x, T* y) {
  const T scale = T(dropout_scale(rate));
  for (size_t i = 0; i < n; ++i) y[i] = philox_uniform(seed, i) >= rate ? x[i] * scale : T(0);
}

template <class T>
void dropout_backward(size_t n, float rate, uint64_t seed, const T* dy, T* dx) {
  const T scale = T(dropout_scale(rate));
  for (size_t i = 0; i < n; ++i) dx[i] = philox_uniform(seed, i) >= rate ? dy[i] * scale : T(0);
}

// ---- softmax cross-entropy ---------------------------------------------------------------------
template <class T>
void softmax_xent(int N, int K,
                  const T* logits,        // (N, K)
                  const int32_t* labels,  // (N)
                  T* probs,               // (N, K)
                  T* loss,                // (N)
                  T* dlogits,             // (N, K) or null
                  float scale) {
  for (int n = 0; n < N; ++n) {
    const T* l = logits + size_t(n) * K;
    const int32_t label = labels[n];
    DIGITS_CHECK(label >= 0 && label < K, "softmax_xent: label " << label << " of row " << n << " outside [0, " << K << ")");
    double mx = double(l[0]);
    for (int k = 1; k < K; ++k) mx = std::fmax(mx, double(l[k]));
    double sum = 0;
    for (int k = 0; k < K; ++k) sum += std::exp(double(l[k]) - mx);
    const double log_sum = std::log(sum);
    loss[n] = T(log_sum - (double(l[label]) - mx));
    for (int k = 0; k < K; ++k) {
      const double pk = std::exp(double(l[k]) - mx - log_sum);
      probs[size_t(n) * K + k] = T(pk);
      if (dlogits) dlogits[size_t(n) * K + k] = T((pk - (k == label ? 1.0 : 0.0)) * double(scale));
    }
  }
}

// ---- batch normalization ------------------------------------------------------------------------
template <class T>
void batchnorm_forward_train(int N, int C, int HW, float eps, float momentum,
                             const T* x,                      // (N, C, HW)
                             const T* gamma, const T* beta,   // (C)
                             T* y,                            // (N, C, HW)
                             T* batch_mean, T* batch_inv_std, // (C)
                             T* running_mean, T* running_var) {  // (C), updated
  const double M = double(N) * HW;
  for (int c = 0; c < C; ++c) {
    double sum = 0;
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < HW; ++i) sum += double(x[(size_t(n) * C + c) * HW + i]);
    const double mean = sum / M;
    double sq = 0;
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < HW; ++i) {
        const double d = double(x[(size_t(n) * C + c) * HW + i]) - mean;
        sq += d * d;
      }
    const double var = sq / M, inv_std = 1.0 / std::sqrt(var + double(eps));
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < HW; ++i) {
        const size_t at = (size_t(n) * C + c) * HW + i;
        y[at] = T(double(gamma[c]) * (double(x[at]) - mean) * inv_std + double(beta[c]));
      }
    batch_mean[c] = T(mean);
    batch_inv_std[c] = T(inv_std);
    const double unbiased = M > 1 ? var * M / (M - 1) : var;
    running_mean[c] = T((1.0 - momentum) * double(running_mean[c]) + momentum * mean);
    running_var[c] = T((1.0 - momentum) * double(running_var[c]) + momentum * unbiased);
  }
}

template <class T>
void batchnorm_forward_infer(int N, int C, int HW, float eps, const T* x, const T* gamma, const T* beta,
                             const T* running_mean, const T* running_var, T* y) {
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      const double inv_std = 1.0 / std::sqrt(double(running_var[c]) + double(eps));
      for (int i = 0; i < HW; ++i) {
        const size_t at = (size_t(n) * C + c) * HW + i;
        y[at] = T(double(gamma[c]) * (double(x[at]) - double(running_mean[c])) * inv_std + double(beta[c]));
      }
    }
}

template <class T>
void batchnorm_backward(int N, int C, int HW, const T* x, const T* dy, const T* gamma, const T* batch_mean,
                        const T* batch_inv_std, T* dx, T* dgamma, T* dbeta) {
  const double M = double(N) * HW;
  for (int c = 0; c < C; ++c) {
    const double mean = double(batch_mean[c]), inv_std = double(batch_inv_std[c]);
    double sdy = 0, sdyx = 0;
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < HW; ++i) {
        const size_t at = (size_t(n) * C + c) * HW + i;
        sdy += double(dy[at]);
        sdyx += double(dy[at]) * (double(x[at]) - mean) * inv_std;
      }
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < HW; ++i) {
        const size_t at = (size_t(n) * C + c) * HW + i;
        const double xhat = (double(x[at]) - mean) * inv_std;
        dx[at] = T(double(gamma[c]) * inv_std * (double(dy[at]) - (sdy + xhat * sdyx) / M));
      }
    dgamma[c] = T(sdyx);
    dbeta[c] = T(sdy);
  }
}

// ---- batches ---------------------------------------------------------------------------------------
inline void gather_batch(int n, int pixels,
                         const uint8_t* images,  // (count, pixels)
                         const uint8_t* labels,  // (count)
                         const int32_t* index,   // (n)
                         float scale, float shift,
                         float* x,                // (n, pixels)
                         int32_t* labels_out) {   // (n)
  for (int i = 0; i < n; ++i) {
    DIGITS_CHECK(index[i] >= 0, "gather_batch: negative index " << index[i] << " at " << i);
    const uint8_t* img = images + size_t(index[i]) * pixels;
    for (int j = 0; j < pixels; ++j) x[size_t(i) * pixels + j] = float(img[j]) * scale + shift;
    labels_out[i] = int32_t(labels[index[i]]);
  }
}

// In augment.cpp: the map of host/ops.h written out in double, one output pixel at a time.
void augment_batch(int n, int H, int W, const uint8_t* images, const uint8_t* labels, const int32_t* index,
                   const AugmentParams& a, uint64_t seed, float scale, float shift, float* x, int32_t* labels_out);

// ---- epoch statistics --------------------------------------------------------------------------------
inline void accumulate_stats(int N, int K,
                             const float* probs,     // (N, K)
                             const int32_t* labels,  // (N)
                             const float* loss,      // (N)
                             double* stats) {        // (2): += sum of loss, += number correct
  double loss_sum = 0, correct = 0;
  for (int n = 0; n < N; ++n) {
    const float* p = probs + size_t(n) * K;
    int best = 0;
    for (int k = 1; k < K; ++k)
      if (p[k] > p[best]) best = k;  // strict: the first maximum wins ties
    loss_sum += double(loss[n]);
    if (best == labels[n]) correct += 1;
  }
  stats[0] += loss_sum;
  stats[1] += correct;
}

// ---- optimizers: element-wise in float, exactly the formulas of host/ops.h -------------------------
inline void adadelta_update(size_t n, const AdadeltaParams& p, float* w, const float* g, float* accum_grad,
                            float* accum_delta) {
  for (size_t i = 0; i < n; ++i) {
    const float a = p.rho * accum_grad[i] + (1.0f - p.rho) * g[i] * g[i];
    const float d = std::sqrt(accum_delta[i] + p.eps) / std::sqrt(a + p.eps) * g[i];
    accum_grad[i] = a;
    accum_delta[i] = p.rho * accum_delta[i] + (1.0f - p.rho) * d * d;
    w[i] -= p.lr * d;
  }
}

inline void sgd_update(size_t n, const SgdParams& p, float* w, const float* g, float* velocity) {
  for (size_t i = 0; i < n; ++i) {
    velocity[i] = p.momentum * velocity[i] + g[i];
    w[i] -= p.lr * velocity[i];
  }
}

inline void adam_update(size_t n, const AdamParams& p, float* w, const float* g, float* m, float* v) {
  // Bias corrections in double: beta^t underflows gracefully and 1 - beta^t keeps its digits.
  const float c1 = float(1.0 - std::pow(double(p.beta1), double(p.t)));
  const float c2 = float(1.0 - std::pow(double(p.beta2), double(p.t)));
  for (size_t i = 0; i < n; ++i) {
    m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * g[i];
    v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * g[i] * g[i];
    w[i] -= p.lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + p.eps);
  }
}

}  // namespace digits::reference::typed
