// Reference optimizer updates over flat parameter buffers: Adadelta (Keras), SGD with momentum
// (PyTorch), Adam. Element-wise in float, exactly the formulas of host/ops.h.
#include "reference/reference_ops.h"

#include <cmath>

#include "error.h"

namespace digits::reference {

void adadelta_update(size_t n, const AdadeltaParams& p, float* w, const float* g, float* accum_grad,
                     float* accum_delta) {
  for (size_t i = 0; i < n; ++i) {
    const float a = p.rho * accum_grad[i] + (1.0f - p.rho) * g[i] * g[i];
    const float d = std::sqrt(accum_delta[i] + p.eps) / std::sqrt(a + p.eps) * g[i];
    accum_grad[i] = a;
    accum_delta[i] = p.rho * accum_delta[i] + (1.0f - p.rho) * d * d;
    w[i] -= p.lr * d;
  }
}

void sgd_update(size_t n, const SgdParams& p, float* w, const float* g, float* velocity) {
  for (size_t i = 0; i < n; ++i) {
    velocity[i] = p.momentum * velocity[i] + g[i];
    w[i] -= p.lr * velocity[i];
  }
}

void adam_update(size_t n, const AdamParams& p, float* w, const float* g, float* m, float* v) {
  DIGITS_CHECK(p.t >= 1, "adam_update: step " << p.t << " must be >= 1");
  // Bias corrections in double: beta^t underflows gracefully and 1 - beta^t keeps its digits.
  const float c1 = float(1.0 - std::pow(double(p.beta1), double(p.t)));
  const float c2 = float(1.0 - std::pow(double(p.beta2), double(p.t)));
  for (size_t i = 0; i < n; ++i) {
    m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * g[i];
    v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * g[i] * g[i];
    w[i] -= p.lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + p.eps);
  }
}

}  // namespace digits::reference
