// The CUDA start-up probe (probe.h): each step runs the real thing once, on the tiniest shapes, through
// the same code the backend uses (our fill kernel, the cuDNN and cuBLAS paths of cuda_ops.h), so a
// missing kernel image, a broken cuDNN sub-library (cuDNN 9 loads them lazily, at the first convolution)
// or a broken cuBLAS shows up before a backend is chosen rather than mid-training. Each failure is one
// line naming the step's cause and what to do; an injected fault gives the same line, marked.
#include "probe.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <sstream>
#include <vector>

#include "cuda_check.h"
#include "cuda_ops.h"
#include "cudnn_context.h"
#include "device_buffer.h"
#include "device_info.h"

namespace digits {

namespace {

// The driver a CUDA 13 runtime needs on Linux (NVIDIA's CUDA 13.0 release notes: 580.65.06 or newer).
constexpr const char* kDriverNeeded13 = "R580 or newer (580.65.06+ on Linux)";

std::string cuda_version_text(int v) {
  if (v <= 0) return "none";
  return std::to_string(v / 1000) + "." + std::to_string((v / 10) % 100);
}

std::string error_text(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

std::string archs_built() {
#ifdef DIGITS_CUDA_ARCHS
  return DIGITS_CUDA_ARCHS;
#else
  return "unknown";
#endif
}

// ---- the one-line reasons (shared by real and injected failures) --------------------------------------

std::string driver_reason(int driver, int runtime) {
  std::ostringstream os;
  os << "NVIDIA driver too old: it supports CUDA " << cuda_version_text(driver) << ", this build's runtime is CUDA "
     << cuda_version_text(runtime) << ": install NVIDIA driver "
     << (runtime / 1000 == 13 ? kDriverNeeded13 : "one that supports CUDA " + cuda_version_text(runtime));
  return os.str();
}

std::string device_count_reason(const std::string& detail, int driver) {
  return "no CUDA device found (cudaGetDeviceCount: " + detail + "; driver: " +
         (driver > 0 ? "CUDA " + cuda_version_text(driver) : std::string("none found")) +
         "): no NVIDIA GPU, or its driver is not installed (nvidia-smi lists what the driver sees)";
}

std::string kernel_reason(const std::string& device, int cc_major, int cc_minor, const std::string& detail) {
  std::ostringstream os;
  os << "our CUDA kernels cannot run on " << device << " (" << detail << "); this build has code for "
     << archs_built();
  if (cc_major > 0 && cc_major * 10 + cc_minor < 75)
    os << ": CUDA 13 supports compute capability 7.5 and newer only";
  else if (cc_major > 0)
    os << ": rebuild with -DCMAKE_CUDA_ARCHITECTURES=" << cc_major << cc_minor << "-real";
  return os.str();
}

std::string step_reason(std::string_view step, const std::string& detail) {
  if (step == "cudnn")
    return "cuDNN cannot start (" + detail + "): install cuDNN 9 for CUDA 13 (libcudnn.so.9; pip: nvidia-cudnn-cu13)";
  if (step == "cudnn_conv")
    return "a cuDNN convolution failed (" + detail + "): a cuDNN 9 sub-library (libcudnn_ops, libcudnn_cnn, "
           "libcudnn_engines_*.so.9) is missing or from another version: reinstall cuDNN 9 for CUDA 13";
  if (step == "cublas")
    return "cuBLAS cannot start (" + detail + "): install cuBLAS for CUDA 13 (libcublas.so.13, libcublasLt.so.13)";
  return "a cuBLAS matrix product failed (" + detail + "): libcublas.so.13 or libcublasLt.so.13 is broken or "
         "from another CUDA version: reinstall cuBLAS for CUDA 13";
}

// What a failure of `step` says when it is injected: the real message with a typical cause.
std::string injected_reason(std::string_view step, int runtime) {
  std::string r;
  if (step == "driver") r = driver_reason(12040, runtime);
  else if (step == "device_count") r = device_count_reason(error_text(cudaErrorNoDevice), 13000);
  else if (step == "kernel") r = kernel_reason("device 0", 0, 0, error_text(cudaErrorNoKernelImageForDevice));
  else if (step == "cudnn") r = step_reason(step, "cudnnCreate: CUDNN_STATUS_NOT_INITIALIZED");
  else if (step == "cudnn_conv") r = step_reason(step, "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED");
  else if (step == "cublas") r = step_reason(step, "cublasCreate: CUBLAS_STATUS_NOT_INITIALIZED");
  else r = step_reason(step, "CUBLAS_STATUS_EXECUTION_FAILED");
  return r + " [fault injected: " + std::string(step) + "]";
}

// ---- the real steps: "" when the step passed, else its one-line reason -------------------------------

std::string check_driver(int driver, int runtime) {
  // A CUDA 13.x runtime runs on any driver of CUDA 13.0 or newer (minor version compatibility);
  // no driver at all (0) is the device_count step's to report.
  if (driver > 0 && driver / 1000 < runtime / 1000) return driver_reason(driver, runtime);
  return "";
}

std::string check_device_count(int device, int driver) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  (void)cudaGetLastError();
  if (e != cudaSuccess) return device_count_reason(error_text(e), driver);
  if (count == 0) return device_count_reason("0 devices", driver);
  if (device < 0 || device >= count)
    return "CUDA device " + std::to_string(device) + " does not exist: this machine has " + std::to_string(count);
  return "";
}

// Our fill kernel writes 1.0 into one float and we read it back: catches "no kernel image" (no code
// for this GPU's architecture), a device in exclusive or prohibited mode, and a context that cannot start.
std::string check_kernel(int device) {
  const CudaDeviceInfo info = cuda_device_info(device);
  const std::string name = info.name.empty() ? "device " + std::to_string(device)
                                             : info.name + " (sm_" + std::to_string(info.cc_major) +
                                                   std::to_string(info.cc_minor) + ")";
  try {
    CUDA_CHECK(cudaSetDevice(device));
    cuda::DeviceBuffer buf(sizeof(float));
    cuda::fill(static_cast<float*>(buf.get()), 1, 1.0f);
    cuda::synchronize();
    float h = 0;
    CUDA_CHECK(cudaMemcpy(&h, buf.get(), sizeof h, cudaMemcpyDeviceToHost));
    if (h != 1.0f) return kernel_reason(name, info.cc_major, info.cc_minor, "the kernel ran but wrote nothing");
  } catch (const std::exception& e) {
    (void)cudaGetLastError();
    return kernel_reason(name, info.cc_major, info.cc_minor, e.what());
  }
  return "";
}

// Runs `op` on device buffers x (ones), w (ones), y and checks every y is `expect`.
template <class Op>
std::string check_op(size_t nx, size_t nw, size_t ny, float expect, Op op) {
  const std::vector<float> ones(std::max(nx, nw), 1.0f);
  cuda::DeviceBuffer x(nx * sizeof(float)), w(nw * sizeof(float)), y(ny * sizeof(float));
  CUDA_CHECK(cudaMemcpy(x.get(), ones.data(), nx * sizeof(float), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(w.get(), ones.data(), nw * sizeof(float), cudaMemcpyHostToDevice));
  op(static_cast<const float*>(x.get()), static_cast<const float*>(w.get()), static_cast<float*>(y.get()));
  cuda::synchronize();
  std::vector<float> h(ny, 0.0f);
  CUDA_CHECK(cudaMemcpy(h.data(), y.get(), ny * sizeof(float), cudaMemcpyDeviceToHost));
  for (float v : h)
    if (std::fabs(v - expect) > 1e-3f) return "wrong result " + std::to_string(v) + ", expected " + std::to_string(expect);
  return "";
}

std::string run_library_step(std::string_view step) {
  std::string detail;
  try {
    if (step == "cudnn") (void)cuda::CudaContext::current().cudnn();
    if (step == "cublas") (void)cuda::CudaContext::current().cublas();
    if (step == "cudnn_conv") {  // (1,1,3,3) * (1,1,2,2) of ones: every output is 4
      const ConvShape s{1, 1, 3, 3, 1, 2, 2, 0};
      detail = check_op(s.in_size(), s.weight_size(), s.out_size(), 4.0f,
                        [&](const float* x, const float* w, float* y) { cuda::conv2d_forward(s, x, w, y); });
    }
    if (step == "cublas_gemm") {  // (2,3) x (3 -> 2) of ones: every output is 3
      const DenseShape s{2, 3, 2};
      detail = check_op(size_t(s.N) * s.in, size_t(s.out) * s.in, size_t(s.N) * s.out, 3.0f,
                        [&](const float* x, const float* w, float* y) { cuda::dense_forward(s, x, w, y); });
    }
  } catch (const std::exception& e) {
    detail = e.what();
  }
  (void)cudaGetLastError();
  return detail.empty() ? "" : step_reason(step, detail);
}

}  // namespace

CudaProbeResult cuda_probe(const CudaProbeOptions& o) noexcept {
  CudaProbeResult r;
  try {
    int runtime = 0, driver = 0;
    if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) runtime = 0;
    if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;  // 0: no driver installed
    (void)cudaGetLastError();
    for (const std::string_view step : kCudaProbeSteps) {
      std::string why;
      if (step == o.fail_step) why = injected_reason(step, runtime);
      else if (!o.fail_step.empty()) continue;  // injection: the steps before the named one count as passed
      else if (step == "driver") why = check_driver(driver, runtime);
      else if (step == "device_count") why = check_device_count(o.device, driver);
      else if (step == "kernel") why = check_kernel(o.device);
      else why = run_library_step(step);
      if (!why.empty()) {
        r.failed_step = std::string(step);
        r.reason = why;
        return r;
      }
    }
    r.ok = true;
  } catch (...) {
    r.failed_step = "unknown";
    r.reason = "the CUDA start-up probe failed unexpectedly";
  }
  (void)cudaGetLastError();
  return r;
}

}  // namespace digits
