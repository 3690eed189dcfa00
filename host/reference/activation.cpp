// Reference ReLU and inverted dropout (mask from Philox keyed by (seed, element index)).
#include "reference/reference_impl.h"
#include "reference/reference_ops.h"

namespace digits::reference {

void relu_forward(size_t n, const float* x, float* y) { typed::relu_forward<float>(n, x, y); }
void relu_backward(size_t n, const float* y, const float* dy, float* dx) { typed::relu_backward<float>(n, y, dy, dx); }
void dropout_forward(size_t n, float rate, uint64_t seed, const float* x, float* y) {
  typed::dropout_forward<float>(n, rate, seed, x, y);
}
void dropout_backward(size_t n, float rate, uint64_t seed, const float* dy, float* dx) {
  typed::dropout_backward<float>(n, rate, seed, dy, dx);
}

}  // namespace digits::reference
