// The CUDA implementations of host/ops.h (same signatures as digits::cpu and digits::reference):
// cuDNN convolutions, cuBLAS dense layers, our own kernels for the rest. Pointers are device pointers
// on the current device; work is queued on this thread's current stream (see set_current_stream) and
// is asynchronous unless DIGITS_CUDA_SYNC=1. Plain C++: includes no CUDA header.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shapes.h"

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace digits::cuda {
#include "ops.h"

// ---- settings --------------------------------------------------------------------------------------
// TF32 tensor-core math for convolutions and dense layers: faster, ~1e-3 relative error. Default is
// off (exact float32 FMA math) unless the environment has DIGITS_TF32=1. Process-wide.
void set_tf32(bool on);
bool tf32();

// The stream this thread's ops are queued on; nullptr (the default) is the legacy default stream.
// Set a non-default stream to capture a training step in a CUDA graph. Once per shape an op may pick
// a cuDNN algorithm or grow a workspace (allocation, synchronisation): run one step before capturing.
using Stream = CUstream_st*;
void set_current_stream(Stream s);
Stream current_stream();

// ---- memory helpers (device pointers) --------------------------------------------------------------
// p[0, n) = value
void fill(float* p, size_t n, float value);
// Waits for this thread's current stream and reports any asynchronous fault as CudaError.
void synchronize();

}  // namespace digits::cuda
