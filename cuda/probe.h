// The CUDA start-up probe: one pass over everything the CUDA backend needs before it is chosen (the
// driver against the runtime, a device, a launch of our own kernel, cuDNN and one tiny convolution,
// cuBLAS and one tiny GEMM), stopping at the first step that fails with a one-line reason. Plain C++;
// called only by select_backend (host/backend_select.cpp), for the command line and the window alike.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace digits {

// The steps, in the order they run. Each name is also what BackendOptions::fail_probe_step takes.
inline constexpr std::array<std::string_view, 7> kCudaProbeSteps = {
    "driver", "device_count", "kernel", "cudnn", "cudnn_conv", "cublas", "cublas_gemm"};

struct CudaProbeOptions {
  int device = 0;
  // Fault injection for tests: the step of this name fails with the message a real failure of it gives
  // (marked as injected), and the steps before it are taken as passed without running them, so every
  // branch can be tested on a machine without a GPU. Empty: a real probe. A name that is no step (e.g.
  // "backend") runs no real step and passes.
  std::string fail_step;
};

struct CudaProbeResult {
  bool ok = false;
  std::string failed_step;  // one of kCudaProbeSteps when !ok
  std::string reason;       // one line: what failed and what to do, e.g. "NVIDIA driver too old: ..."
};

// requires: nothing (no driver, no GPU, a broken cuDNN are all normal outcomes)
// ensures: never throws; leaves no sticky CUDA error behind.
CudaProbeResult cuda_probe(const CudaProbeOptions& options) noexcept;

}  // namespace digits
