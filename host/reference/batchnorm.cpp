// Reference batch normalization (training statistics, inference with running statistics, backward):
// float instantiations of the plain loops in reference_impl.h.
#include "reference/reference_impl.h"
#include "reference/reference_ops.h"

namespace digits::reference {

void batchnorm_forward_train(int N, int C, int HW, float eps, float momentum, const float* x, const float* gamma,
                             const float* beta, float* y, float* batch_mean, float* batch_inv_std,
                             float* running_mean, float* running_var) {
  typed::batchnorm_forward_train<float>(N, C, HW, eps, momentum, x, gamma, beta, y, batch_mean, batch_inv_std,
                                        running_mean, running_var);
}
void batchnorm_forward_infer(int N, int C, int HW, float eps, const float* x, const float* gamma, const float* beta,
                             const float* running_mean, const float* running_var, float* y) {
  typed::batchnorm_forward_infer<float>(N, C, HW, eps, x, gamma, beta, running_mean, running_var, y);
}
void batchnorm_backward(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                        const float* batch_mean, const float* batch_inv_std, float* dx, float* dgamma, float* dbeta) {
  typed::batchnorm_backward<float>(N, C, HW, x, dy, gamma, batch_mean, batch_inv_std, dx, dgamma, dbeta);
}

}  // namespace digits::reference
