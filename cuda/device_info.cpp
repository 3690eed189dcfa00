// Device probing (never throws), the `digits info` lines, and the cudaMalloc wrapper with a clear
// out-of-memory message. With no driver cudaGetDeviceCount returns cudaErrorInsufficientDriver and does
// not write the count, so it starts at 0; the error it leaves is cleared.
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "cuda_backend.h"
#include "cuda_ops.h"
#include "device_buffer.h"
#include "device_info.h"

namespace digits {

namespace {

struct Probe {
  int count = 0;
  cudaError_t error = cudaSuccess;
};

Probe probe() noexcept {
  Probe p;
  p.error = cudaGetDeviceCount(&p.count);
  if (p.error != cudaSuccess) p.count = 0;
  (void)cudaGetLastError();
  return p;
}

std::string version_text(int v, int major_div, int minor_div, int minor_mod) {
  std::ostringstream os;
  os << v / major_div << "." << (v / minor_div) % minor_mod;
  return os.str();
}

std::string bytes_text(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

// CMake's architecture list ("75-real 90-real 120-virtual", or "90" for both) as the GPUs it serves:
// "sm_75 sm_90 (machine code), compute_120 (PTX, compiled by the driver for newer GPUs)".
std::string archs_text(const std::string& cmake_list) {
  std::istringstream in(cmake_list);
  std::string a, real, ptx;
  while (in >> a) {
    const size_t dash = a.find('-');
    const std::string n = a.substr(0, dash), kind = dash == std::string::npos ? "" : a.substr(dash + 1);
    if (kind != "virtual") real += (real.empty() ? "sm_" : " sm_") + n;
    if (kind != "real") ptx += (ptx.empty() ? "compute_" : " compute_") + n;
  }
  std::string out = real.empty() ? "" : real + " (machine code)";
  if (!ptx.empty()) out += (out.empty() ? "" : ", ") + ptx + " (PTX, compiled by the driver for newer GPUs)";
  return out;
}

}  // namespace

int cuda_device_count() noexcept { return probe().count; }

std::string cuda_probe_status() noexcept {
  try {
    const Probe p = probe();
    std::ostringstream os;
    if (p.error != cudaSuccess)
      os << cudaGetErrorName(p.error) << ": " << cudaGetErrorString(p.error);
    else
      os << p.count << (p.count == 1 ? " device" : " devices");
    return os.str();
  } catch (...) {
    return "unknown";
  }
}

CudaDeviceInfo cuda_device_info(int device) noexcept {
  CudaDeviceInfo info;
  try {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
      (void)cudaGetLastError();
      return info;
    }
    info.name = prop.name;
    info.cc_major = prop.major;
    info.cc_minor = prop.minor;
    info.total_memory = prop.totalGlobalMem;
    info.multiprocessors = prop.multiProcessorCount;
  } catch (...) {
    info = CudaDeviceInfo{};
  }
  return info;
}

std::vector<std::pair<std::string, std::string>> cuda_info() {
  std::vector<std::pair<std::string, std::string>> out;
  int runtime = 0, driver = 0;
  if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) runtime = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  (void)cudaGetLastError();
  out.emplace_back("CUDA runtime", runtime ? version_text(runtime, 1000, 10, 100) : "unknown");
  out.emplace_back("CUDA driver", driver ? version_text(driver, 1000, 10, 100) : "no driver");
#ifdef DIGITS_CUDA_ARCHS
  out.emplace_back("CUDA architectures built", archs_text(DIGITS_CUDA_ARCHS));
#endif

  const Probe p = probe();
  if (p.error != cudaSuccess)
    out.emplace_back("CUDA devices", "0 (" + cuda_probe_status() + ")");
  else
    out.emplace_back("CUDA devices", std::to_string(p.count));
  for (int d = 0; d < p.count; ++d) {
    const CudaDeviceInfo i = cuda_device_info(d);
    std::ostringstream os;
    os << i.name << ", sm_" << i.cc_major << i.cc_minor << ", " << bytes_text(i.total_memory) << ", "
       << i.multiprocessors << " SMs";
    out.emplace_back("GPU " + std::to_string(d), os.str());
  }

  // cuDNN 9 encodes its version as major*10000 + minor*100 + patch.
  const size_t cudnn = cudnnGetVersion();
  std::ostringstream cudnn_text;
  cudnn_text << cudnn / 10000 << "." << (cudnn / 100) % 100 << "." << cudnn % 100 << " (built with "
             << CUDNN_MAJOR << "." << CUDNN_MINOR << "." << CUDNN_PATCHLEVEL << ")";
  out.emplace_back("cuDNN", cudnn_text.str());

  // cublasGetProperty needs no handle (a handle would need a device).
  int major = 0, minor = 0, patch = 0;
  if (cublasGetProperty(MAJOR_VERSION, &major) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(MINOR_VERSION, &minor) == CUBLAS_STATUS_SUCCESS &&
      cublasGetProperty(PATCH_LEVEL, &patch) == CUBLAS_STATUS_SUCCESS)
    out.emplace_back("cuBLAS", std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch));
  else
    out.emplace_back("cuBLAS", "unknown");
  out.emplace_back("TF32", "off by default (DIGITS_TF32=1 turns it on)");
  out.emplace_back("deterministic", "off by default (cuDNN picks algorithms by timing; train --deterministic "
                                    "keeps deterministic algorithms chosen by heuristics)");
  (void)cudaGetLastError();
  return out;
}

// ---- memory --------------------------------------------------------------------------------------------

namespace cuda {

void* cuda_malloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaSuccess) return p;
  if (e != cudaErrorMemoryAllocation) CUDA_CHECK(e);
  (void)cudaGetLastError();
  size_t free_bytes = 0, total_bytes = 0;
  int device = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess || cudaGetDevice(&device) != cudaSuccess)
    (void)cudaGetLastError();
  std::ostringstream os;
  os << "out of GPU memory allocating " << bytes << " bytes (" << double(bytes) / (1024.0 * 1024.0)
     << " MiB) on CUDA device " << device << ": " << double(free_bytes) / (1024.0 * 1024.0) << " MiB free of "
     << double(total_bytes) / (1024.0 * 1024.0) << " MiB. Try a smaller --batch, or --device cpu";
  throw CudaError(os.str());
}

void cuda_free(void* p) noexcept {
  if (p && cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
}

}  // namespace cuda

}  // namespace digits
