// Reference dense layer (y = x w^T with w stored (out, in)) and the per-channel bias.
#include "reference/reference_impl.h"
#include "reference/reference_ops.h"

namespace digits::reference {

void dense_forward(const DenseShape& s, const float* x, const float* w, float* y) {
  typed::dense_forward<float>(s, x, w, y);
}
void dense_backward_data(const DenseShape& s, const float* dy, const float* w, float* dx) {
  typed::dense_backward_data<float>(s, dy, w, dx);
}
void dense_backward_weight(const DenseShape& s, const float* x, const float* dy, float* dw) {
  typed::dense_backward_weight<float>(s, x, dy, dw);
}
void bias_forward(int N, int C, int HW, const float* b, float* y) { typed::bias_forward<float>(N, C, HW, b, y); }
void bias_backward(int N, int C, int HW, const float* dy, float* db) { typed::bias_backward<float>(N, C, HW, dy, db); }

}  // namespace digits::reference
