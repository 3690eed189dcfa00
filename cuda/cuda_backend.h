// The CUDA backend's public face: plain C++ (no CUDA headers), so host code can include it.
// Only host/backend_select.cpp and CUDA tests/benchmarks include this file.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend.h"

namespace digits {

// Number of usable CUDA devices; 0 when there is no driver or no device. Never throws, clears the
// sticky error the probe leaves behind.
int cuda_device_count() noexcept;

// A backend on device `device` (cuDNN convolutions, cuBLAS dense layers, our kernels) with the CUDA
// settings of `options` (tf32, deterministic, cudnn_heuristic). Throws digits::Error (CudaError) with the
// failing call and the library's message if it cannot start.
std::unique_ptr<Backend> make_cuda_backend(int device = 0, const BackendOptions& options = {});

// For `digits info`: CUDA runtime and driver versions ("no driver"), each device (name, compute
// capability, memory), cuDNN and cuBLAS versions.
std::vector<std::pair<std::string, std::string>> cuda_info();

}  // namespace digits
