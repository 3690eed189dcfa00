// Launchers of the batch-normalization kernels on an explicit stream (the ops in cuda_ops.h use the
// current stream and this thread's CudaContext workspace). Semantics as in host/ops.h.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace digits::cuda::launch {

// Bytes of device scratch that batchnorm_forward_train and batchnorm_backward need for this shape (per-slice
// partial sums and per-channel coefficients; a few KiB to 1 MiB). Depends on the shape only.
// requires: N, C, HW > 0 (throws digits::Error otherwise)
size_t batchnorm_workspace_bytes(int N, int C, int HW);

// y (N,C,HW) = gamma (x - mean) inv_std + beta with the batch's statistics; writes batch_mean,
// batch_inv_std (C) and updates running_mean, running_var (C) (PyTorch momentum, unbiased variance).
// requires: workspace holds batchnorm_workspace_bytes(N, C, HW) bytes, 16-byte aligned, unused by other work
//           on other streams until this call's kernels finish. x and y may alias here (every value is read,
//           then written, by one thread after the statistics are done), though host/ops.h promises it only
//           for inference.
void batchnorm_forward_train(cudaStream_t st, int N, int C, int HW, float eps, float momentum, const float* x,
                             const float* gamma, const float* beta, float* y, float* batch_mean, float* batch_inv_std,
                             float* running_mean, float* running_var, void* workspace);

// y (N,C,HW) = gamma (x - running_mean) / sqrt(running_var + eps) + beta; x and y may alias. No workspace.
void batchnorm_forward_infer(cudaStream_t st, int N, int C, int HW, float eps, const float* x, const float* gamma,
                             const float* beta, const float* running_mean, const float* running_var, float* y);

// dbeta = sum dy, dgamma = sum dy xhat (C); dx (N,C,HW) = gamma inv_std (dy - (dbeta + xhat dgamma) / M).
// requires: workspace as for batchnorm_forward_train. dx may alias x or dy here (as for y above).
void batchnorm_backward(cudaStream_t st, int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                        const float* batch_mean, const float* batch_inv_std, float* dx, float* dgamma, float* dbeta,
                        void* workspace);

}  // namespace digits::cuda::launch
