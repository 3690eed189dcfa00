// Reference convolution (stride 1, zero padding), forward, backward data and backward filter:
// float instantiations of the plain loops in reference_impl.h.
#include "reference/reference_impl.h"
#include "reference/reference_ops.h"

namespace digits::reference {

void conv2d_forward(const ConvShape& s, const float* x, const float* w, float* y) {
  typed::conv2d_forward<float>(s, x, w, y);
}
void conv2d_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  typed::conv2d_backward_data<float>(s, dy, w, dx);
}
void conv2d_backward_filter(const ConvShape& s, const float* x, const float* dy, float* dw) {
  typed::conv2d_backward_filter<float>(s, x, dy, dw);
}

}  // namespace digits::reference
