// What the kernel report (`digits bench --kernels`) needs of the CUDA build, reachable from code that
// includes no CUDA header and does not know whether CUDA was compiled in: the backend of device 0, GPU
// timing, the device's measured peaks, our direct convolution kernels and every cuDNN algorithm.
// Implemented in backend_select.cpp, the one file that knows.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "shapes.h"

namespace digits {

struct CudaTools {
  std::unique_ptr<Backend> backend;  // device 0, after the start-up probe passed
  std::string device;                // e.g. "NVIDIA H200 (sm_90)"
  // Milliseconds of GPU time of fn (CUDA events on the current stream).
  std::function<double(const std::function<void()>&)> time_ms;
  std::function<double()> peak_fma_gflops, peak_copy_gbs;
  // Our direct kernels for a convolution op (conv2d_forward | conv2d_backward_data | conv2d_backward_filter)
  // on its operands in argument order.
  std::function<void(const std::string& op, const ConvShape&, const float*, const float*, float*)> conv_direct;
  // Every cuDNN algorithm of that op, as cuDNN's Find times it on these operands: (name, milliseconds).
  std::function<std::vector<std::pair<std::string, double>>(const std::string& op, const ConvShape&, const float*,
                                                            const float*, float*)>
      cudnn_algorithms;
};

// The tools, or null with the one-line reason in `why` (CUDA not built, no device, a failed probe).
std::unique_ptr<CudaTools> cuda_tools(std::string& why);

}  // namespace digits
