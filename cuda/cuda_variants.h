// Second implementations of some CUDA ops, for benchmarks (BM_<Op>_Cudnn vs BM_<Op>_CudaKernel) and as a
// second opinion in tests: direct convolution kernels (ours, simple and slow) and cuDNN's max pooling.
// Plus a CUDA-event timer so that benchmarks need no CUDA header. Plain C++; device pointers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "shapes.h"

namespace digits::cuda {

// ---- direct convolution kernels (one thread per output element; no workspace) ---------------------
// Same semantics as conv2d_forward / conv2d_backward_data / conv2d_backward_filter in host/ops.h.
void conv2d_forward_direct(const ConvShape& s, const float* x, const float* w, float* y);
void conv2d_backward_data_direct(const ConvShape& s, const float* dy, const float* w, float* dx);
void conv2d_backward_filter_direct(const ConvShape& s, const float* x, const float* dy, float* dw);

// ---- cuDNN max pooling (no argmax: cuDNN's backward needs x and y instead) ------------------------
// y (N,C,P,Q) = max over each size x size window of x (N,C,H,W).
void maxpool_forward_cudnn(const PoolShape& s, const float* x, float* y);
// dx (N,C,H,W) from dy, with the forward's x and y.
void maxpool_backward_cudnn(const PoolShape& s, const float* x, const float* y, const float* dy, float* dx);

// ---- timing -----------------------------------------------------------------------------------------
// Runs fn once between two CUDA events recorded on this thread's current stream and returns the
// elapsed GPU time in milliseconds (waits for the stop event).
double time_ms(const std::function<void()>& fn);

// The cuDNN algorithms this thread's forward / backward-data / backward-filter convolutions of this
// shape use with the current TF32 setting, e.g. "IMPLICIT_PRECOMP_GEMM, FMA, 0 B workspace"; empty for
// a direction that has not run yet. For benchmark labels and logs.
struct ConvAlgoNames {
  std::string forward, backward_data, backward_filter;
};
ConvAlgoNames conv_algo_names(const ConvShape& s);

// ---- every cuDNN algorithm, for the kernel report ----------------------------------------------------
// One direction's algorithms as cudnnFind*AlgorithmEx times them on the given buffers (a, b: the inputs,
// c: the output, in the op's argument order, e.g. x, w, y for "conv2d_forward"), fastest first. Results
// that failed, or that use TF32 tensor cores while TF32 is off, are left out. op: conv2d_forward |
// conv2d_backward_data | conv2d_backward_filter.
struct ConvAlgoTiming {
  std::string algo;  // e.g. "IMPLICIT_PRECOMP_GEMM"
  double ms = 0;
  size_t workspace = 0;  // bytes
};
std::vector<ConvAlgoTiming> conv_algo_timings(const std::string& op, const ConvShape& s, const float* a,
                                              const float* b, float* c);

// ---- the device's peaks, for the kernel report's roofline -------------------------------------------
// GFLOP/s of an FMA throughput kernel filling every SM of the current device.
double peak_fma_gflops();
// GB/s (bytes read + written) of a 256 MiB device-to-device copy.
double peak_copy_gbs();

}  // namespace digits::cuda
