// Reference max pooling (square window, stride = window; first maximum wins ties).
#include "reference/reference_impl.h"
#include "reference/reference_ops.h"

namespace digits::reference {

void maxpool_forward(const PoolShape& s, const float* x, float* y, int32_t* argmax) {
  typed::maxpool_forward<float>(s, x, y, argmax);
}
void maxpool_backward(const PoolShape& s, const float* dy, const int32_t* argmax, float* dx) {
  typed::maxpool_backward<float>(s, dy, argmax, dx);
}

}  // namespace digits::reference
