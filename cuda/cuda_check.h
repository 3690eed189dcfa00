// CUDA_CHECK / CUBLAS_CHECK / CUDNN_CHECK: wrap every cudart, cuBLAS and cuDNN call. On failure they
// throw CudaError (a digits::Error) naming the call, file:line and the library's own message, so the
// GUI can survive and fall back to the CPU. Internal to digits_cuda (needs the CUDA include paths).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

#include "error.h"

namespace digits {

// Every failure of the CUDA runtime, cuBLAS or cuDNN.
class CudaError : public Error {
 public:
  explicit CudaError(const std::string& what) : Error(what) {}
};

namespace cuda::detail {
[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t s, const char* call, const char* file, int line);

// True when DIGITS_CUDA_SYNC=1: every op then ends with a device synchronisation, so an asynchronous
// fault is reported by the op that caused it (read once).
bool sync_after_ops();
// Ends every op: with DIGITS_CUDA_SYNC=1, synchronises the device and throws naming `op` on a fault.
void after_op(const char* op, const char* file, int line);
}  // namespace cuda::detail

}  // namespace digits

#define CUDA_CHECK(call)                                                           \
  do {                                                                             \
    const cudaError_t digits_cuda_e_ = (call);                                     \
    if (digits_cuda_e_ != cudaSuccess)                                             \
      ::digits::cuda::detail::throw_cuda_error(digits_cuda_e_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(call)                                                         \
  do {                                                                             \
    const cublasStatus_t digits_cublas_s_ = (call);                                \
    if (digits_cublas_s_ != CUBLAS_STATUS_SUCCESS)                                 \
      ::digits::cuda::detail::throw_cublas_error(digits_cublas_s_, #call, __FILE__, __LINE__); \
  } while (0)

#define CUDNN_CHECK(call)                                                          \
  do {                                                                             \
    const cudnnStatus_t digits_cudnn_s_ = (call);                                  \
    if (digits_cudnn_s_ != CUDNN_STATUS_SUCCESS)                                   \
      ::digits::cuda::detail::throw_cudnn_error(digits_cudnn_s_, #call, __FILE__, __LINE__); \
  } while (0)

// Ends every op that launches our kernels: a launch error is reported at once; DIGITS_CUDA_SYNC=1 also
// synchronises.
#define DIGITS_CUDA_AFTER_OP(op)                                    \
  do {                                                              \
    CUDA_CHECK(cudaGetLastError());                                 \
    if (::digits::cuda::detail::sync_after_ops())                   \
      ::digits::cuda::detail::after_op(op, __FILE__, __LINE__);     \
  } while (0)

// Ends every op that calls cuDNN or cuBLAS: their status was checked; a launch error they left in
// cudart's last-error slot (their own business, already reflected in the status) is cleared, so that
// it is not blamed on our next kernel. Sticky faults are not lost: every later call reports them.
#define DIGITS_CUDA_AFTER_LIBRARY_OP(op)                            \
  do {                                                              \
    (void)cudaGetLastError();                                       \
    if (::digits::cuda::detail::sync_after_ops())                   \
      ::digits::cuda::detail::after_op(op, __FILE__, __LINE__);     \
  } while (0)
