// Probing CUDA devices without a CUDA header: why there is no device, and each device's name and
// compute capability. Never throws (a machine without a driver is normal). cuda_device_count() and
// cuda_info() themselves are declared in cuda_backend.h.
#pragma once

#include <cstddef>
#include <string>

namespace digits {

// Result of the last device probe, e.g. "cudaErrorInsufficientDriver: CUDA driver version is
// insufficient for CUDA runtime version", "0 devices" or "2 devices". For skip messages and errors.
std::string cuda_probe_status() noexcept;

struct CudaDeviceInfo {
  std::string name;             // "NVIDIA H100 80GB HBM3"
  int cc_major = 0, cc_minor = 0;
  size_t total_memory = 0;      // bytes
  int multiprocessors = 0;
};
// Properties of device `device`; an empty name when it cannot be queried.
CudaDeviceInfo cuda_device_info(int device) noexcept;

}  // namespace digits
