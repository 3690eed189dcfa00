// The reference ops as plain-loop templates over the scalar type T. The float instantiations are the
// digits::reference API (host/reference/*.cpp); the double ones serve the finite-difference gradient
// checks. Sums accumulate in double whatever T is, so the oracle is more accurate than what it checks.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "error.h"
#include "philox.h"
#include "shapes.h"

namespace digits::reference::typed {

// ---- checks ------------------------------------------------------------------------------------
inline void check_conv(const ConvShape& s) {
  DIGITS_CHECK(s.N >= 0 && s.C > 0 && s.H > 0 && s.W > 0 && s.K > 0 && s.R > 0 && s.S > 0,
               "conv2d: bad shape N=" << s.N << " C=" << s.C << " H=" << s.H << " W=" << s.W << " K=" << s.K
                                      << " R=" << s.R << " S=" << s.S);
  DIGITS_CHECK(s.pad >= 0 && s.P() > 0 && s.Q() > 0,
               "conv2d: pad " << s.pad << " gives an empty output " << s.P() << "x" << s.Q());
}
inline void check_pool(const PoolShape& s) {
  DIGITS_CHECK(s.N >= 0 && s.C > 0 && s.size > 0 && s.H >= s.size && s.W >= s.size,
               "maxpool: bad shape N=" << s.N << " C=" << s.C << " H=" << s.H << " W=" << s.W << " size=" << s.size);
}
inline void check_dense(const DenseShape& s) {
  DIGITS_CHECK(s.N >= 0 && s.in > 0 && s.out > 0, "dense: bad shape N=" << s.N << " in=" << s.in << " out=" << s.out);
}
inline void check_rate(float rate) {
  DIGITS_CHECK(rate >= 0.f && rate < 1.f, "dropout: rate " << rate << " outside [0, 1)");
}

// ---- convolution -------------------------------------------------------------------------------
template <class T>
void conv2d_forward(const ConvShape& s,
                    const T* x,  // (N, C, H, W)
                    const T* w,  // (K, C, R, S)
                    T* y) {      // (N, K, P, Q)
  check_conv(s);
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
  check_conv(s);
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
  check_conv(s);
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
  DIGITS_CHECK(N >= 0 && C > 0 && HW > 0, "bias_forward: bad shape N=" << N << " C=" << C << " HW=" << HW);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < HW; ++i) y[(size_t(n) * C + c) * HW + i] += b[c];
}

template <class T>
void bias_backward(int N, int C, int HW,
                   const T* dy,  // (N, C, HW)
                   T* db) {      // (C)
  DIGITS_CHECK(N >= 0 && C > 0 && HW > 0, "bias_backward: bad shape N=" << N << " C=" << C << " HW=" << HW);
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
  check_pool(s);
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
  check_pool(s);
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

// ---- dense -------------------------------------------------------------------------------------
template <class T>
void dense_forward(const DenseShape& s,
                   const T* x,  // (N, in)
                   const T* w,  // (out, in)
                   T* y) {      // (N, out)
  check_dense(s);
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
  check_dense(s);
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
  check_dense(s);
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
  check_rate(rate);
  const T scale = T(dropout_scale(rate));
  for (size_t i = 0; i < n; ++i) y[i] = philox_uniform(seed, i) >= rate ? x[i] * scale : T(0);
}

template <class T>
void dropout_backward(size_t n, float rate, uint64_t seed, const T* dy, T* dx) {
  check_rate(rate);
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
  DIGITS_CHECK(N >= 0 && K > 0, "softmax_xent: bad shape N=" << N << " K=" << K);
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
inline void check_batchnorm(int N, int C, int HW, float eps) {
  DIGITS_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm: bad shape N=" << N << " C=" << C << " HW=" << HW);
  DIGITS_CHECK(eps > 0.f && std::isfinite(eps), "batchnorm: eps " << eps << " must be positive");
}

template <class T>
void batchnorm_forward_train(int N, int C, int HW, float eps, float momentum,
                             const T* x,                      // (N, C, HW)
                             const T* gamma, const T* beta,   // (C)
                             T* y,                            // (N, C, HW)
                             T* batch_mean, T* batch_inv_std, // (C)
                             T* running_mean, T* running_var) {  // (C), updated
  check_batchnorm(N, C, HW, eps);
  DIGITS_CHECK(momentum >= 0.f && momentum <= 1.f, "batchnorm: momentum " << momentum << " outside [0, 1]");
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
  check_batchnorm(N, C, HW, eps);
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
  check_batchnorm(N, C, HW, 1.f);
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

}  // namespace digits::reference::typed
