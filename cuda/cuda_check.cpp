// Builds the messages of CudaError: the failing call, where, the library's error name and text, and a
// hint for the user where one helps (out of memory, sticky faults, missing driver).
#include "cuda_check.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace digits::cuda::detail {

namespace {

// "/work/main/cuda/kernels/relu.cu" -> "cuda/kernels/relu.cu": enough to find the line.
const char* short_file(const char* file) {
  const char* best = file;
  for (const char* p = std::strstr(file, "cuda/"); p; p = std::strstr(p + 1, "cuda/")) best = p;
  return best;
}

// Errors after which the CUDA context is unusable: every later call fails the same way.
bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

}  // namespace

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  // Reset the (non-sticky) error state so that the next launch check does not report it again.
  (void)cudaGetLastError();
  std::ostringstream os;
  if (e == cudaErrorMemoryAllocation) os << "out of GPU memory: ";
  os << "CUDA error " << cudaGetErrorName(e) << " (" << cudaGetErrorString(e) << ") in `" << call << "` at "
     << short_file(file) << ":" << line;
  if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice)
    os << ". Is an NVIDIA GPU present and its driver installed? (try nvidia-smi; or use --device cpu)";
  else if (e == cudaErrorNoKernelImageForDevice || e == cudaErrorUnsupportedPtxVersion)
    os << ". This build has no code for this GPU: rebuild with -DCMAKE_CUDA_ARCHITECTURES=<its sm number, "
          "e.g. 80-real;90-real;90-virtual>";
  else if (is_sticky(e))
    os << ". The GPU context is now unusable: restart the program (DIGITS_CUDA_SYNC=1 or compute-sanitizer "
          "locates the faulting kernel)";
  throw CudaError(os.str());
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  std::ostringstream os;
  if (s == CUBLAS_STATUS_ALLOC_FAILED) os << "out of GPU memory: ";
  os << "cuBLAS error " << cublasGetStatusName(s) << " (" << cublasGetStatusString(s) << ") in `" << call
     << "` at " << short_file(file) << ":" << line;
  throw CudaError(os.str());
}

void throw_cudnn_error(cudnnStatus_t s, const char* call, const char* file, int line) {
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof detail);
  std::ostringstream os;
  if (s == CUDNN_STATUS_ALLOC_FAILED) os << "out of GPU memory: ";
  os << "cuDNN error " << cudnnGetErrorString(s) << " in `" << call << "` at " << short_file(file) << ":" << line;
  if (detail[0]) os << ": " << detail;
  throw CudaError(os.str());
}

bool sync_after_ops() {
  static const bool on = [] {
    const char* v = std::getenv("DIGITS_CUDA_SYNC");
    return v && v[0] && std::strcmp(v, "0") != 0;
  }();
  return on;
}

void after_op(const char* op, const char* file, int line) {
  const cudaError_t e = cudaDeviceSynchronize();
  if (e == cudaSuccess) return;
  std::ostringstream call;
  call << "cudaDeviceSynchronize() after " << op << " (DIGITS_CUDA_SYNC=1)";
  const std::string c = call.str();
  throw_cuda_error(e, c.c_str(), file, line);
}

}  // namespace digits::cuda::detail
