// The preconditions of the ops of host/ops.h, written once. The op table names one of these per op, and
// Backend's checked dispatch runs it before any implementation (reference, cpu, cuda) is reached, so
// every backend refuses the same bad shapes with the same message. Only shapes and scalars are checked
// here: values inside tensors (indices, labels) live in the backend's memory and are checked, where they
// can be, by the implementations themselves.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "error.h"
#include "shapes.h"

namespace digits::op_checks {

inline void none() {}

inline void conv(const ConvShape& s) {
  DIGITS_CHECK(s.N >= 0 && s.C > 0 && s.H > 0 && s.W > 0 && s.K > 0 && s.R > 0 && s.S > 0,
               "conv2d: bad shape N=" << s.N << " C=" << s.C << " H=" << s.H << " W=" << s.W << " K=" << s.K
                                      << " R=" << s.R << " S=" << s.S);
  DIGITS_CHECK(s.pad >= 0 && s.P() > 0 && s.Q() > 0,
               "conv2d: pad " << s.pad << " gives an empty output " << s.P() << "x" << s.Q());
}

inline void pool(const PoolShape& s) {
  DIGITS_CHECK(s.N >= 0 && s.C > 0 && s.size > 0 && s.H >= s.size && s.W >= s.size,
               "maxpool: bad shape N=" << s.N << " C=" << s.C << " H=" << s.H << " W=" << s.W << " size=" << s.size);
}

inline void dense(const DenseShape& s) {
  DIGITS_CHECK(s.N >= 0 && s.in > 0 && s.out > 0, "dense: bad shape N=" << s.N << " in=" << s.in << " out=" << s.out);
}

// (N, C, HW) planes: bias, global average pooling.
inline void planes(const char* op, int N, int C, int HW) {
  DIGITS_CHECK(N >= 0 && C > 0 && HW > 0, op << ": bad shape N=" << N << " C=" << C << " HW=" << HW);
}

inline void dropout(float rate) {
  DIGITS_CHECK(rate >= 0.f && rate < 1.f, "dropout: rate " << rate << " outside [0, 1)");
}

inline void rows(const char* op, int N, int K) {
  DIGITS_CHECK(N >= 0 && K > 0, op << ": bad shape N=" << N << " K=" << K);
}

inline void gather(int n, int pixels) {
  DIGITS_CHECK(n >= 0 && pixels > 0, "gather_batch: bad shape n=" << n << " pixels=" << pixels);
}

inline void augment(int n, int H, int W, const AugmentParams& a) {
  DIGITS_CHECK(n >= 0 && H > 0 && W > 0, "augment_batch: bad shape n=" << n << " H=" << H << " W=" << W);
  for (const float p : {a.rotate_deg, a.zoom, a.shear, a.translate, a.elastic})
    DIGITS_CHECK(std::isfinite(p) && p >= 0.f, "augment_batch: parameter " << p << " is not finite and >= 0");
  DIGITS_CHECK(a.zoom < 1.f, "augment_batch: zoom " << a.zoom << " must be below 1 (the scale 1 +- zoom must stay > 0)");
}

inline void batchnorm(int N, int C, int HW, float eps) {
  DIGITS_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm: bad shape N=" << N << " C=" << C << " HW=" << HW);
  DIGITS_CHECK(eps > 0.f && std::isfinite(eps), "batchnorm: eps " << eps << " must be positive");
}

inline void batchnorm_train(int N, int C, int HW, float eps, float momentum) {
  batchnorm(N, C, HW, eps);
  DIGITS_CHECK(momentum >= 0.f && momentum <= 1.f, "batchnorm: momentum " << momentum << " outside [0, 1]");
}

inline void adam(const AdamParams& p) { DIGITS_CHECK(p.t >= 1, "adam_update: step " << p.t << " must be >= 1"); }

}  // namespace digits::op_checks
