// Dense layers through cublasSgemm. cuBLAS is column-major; a row-major (M, K) matrix is the same
// memory as a column-major (K, M) one, so each row-major product C = A B is computed as C^T = B^T A^T
// with the operands swapped and no copies. beta = 0: outputs are overwritten and never read.
#include "cuda_ops.h"
#include "cudnn_context.h"

namespace digits::cuda {

namespace {
const float kOne = 1.0f, kZero = 0.0f;
}

// y (N,out) = x (N,in) w^T.  Column-major: y^T (out x N) = w (out x in, stored as w^T, ld in) x^T (in x N).
void dense_forward(const DenseShape& s, const float* x, const float* w, float* y) {
  if (s.N == 0 || s.out == 0) return;
  if (s.in == 0) {
    CUDA_CHECK(cudaMemsetAsync(y, 0, size_t(s.N) * s.out * sizeof(float), current_stream()));
    return;
  }
  CUBLAS_CHECK(cublasSgemm(CudaContext::current().cublas(), CUBLAS_OP_T, CUBLAS_OP_N, s.out, s.N, s.in, &kOne, w, s.in,
                           x, s.in, &kZero, y, s.out));
  DIGITS_CUDA_AFTER_LIBRARY_OP("dense_forward");
}

// dx (N,in) = dy (N,out) w (out,in).  Column-major: dx^T (in x N) = w^T (in x out, ld in) dy^T (out x N, ld out).
void dense_backward_data(const DenseShape& s, const float* dy, const float* w, float* dx) {
  if (s.N == 0 || s.in == 0) return;
  if (s.out == 0) {
    CUDA_CHECK(cudaMemsetAsync(dx, 0, size_t(s.N) * s.in * sizeof(float), current_stream()));
    return;
  }
  CUBLAS_CHECK(cublasSgemm(CudaContext::current().cublas(), CUBLAS_OP_N, CUBLAS_OP_N, s.in, s.N, s.out, &kOne, w, s.in,
                           dy, s.out, &kZero, dx, s.in));
  DIGITS_CUDA_AFTER_LIBRARY_OP("dense_backward_data");
}

// dw (out,in) = dy^T (out,N) x (N,in).  Column-major: dw^T (in x out) = x^T (in x N, ld in) dy (N x out; dy^T ld out).
void dense_backward_weight(const DenseShape& s, const float* x, const float* dy, float* dw) {
  if (s.out == 0 || s.in == 0) return;
  if (s.N == 0) {
    CUDA_CHECK(cudaMemsetAsync(dw, 0, size_t(s.out) * s.in * sizeof(float), current_stream()));
    return;
  }
  CUBLAS_CHECK(cublasSgemm(CudaContext::current().cublas(), CUBLAS_OP_N, CUBLAS_OP_T, s.in, s.out, s.N, &kOne, x, s.in,
                           dy, s.out, &kZero, dw, s.in));
  DIGITS_CUDA_AFTER_LIBRARY_OP("dense_backward_weight");
}

}  // namespace digits::cuda
