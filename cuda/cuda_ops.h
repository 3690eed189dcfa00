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
// How cuDNN convolution algorithms are chosen: Find times every algorithm on the real buffers once per
// shape (fastest, but the pick can vary run to run); Heuristic asks cuDNN's heuristics (no timing).
enum class AlgoChoice { Find, Heuristic };
struct Settings {
  // TF32 tensor-core math for convolutions and dense layers: faster, ~1e-3 relative error. Off: exact
  // float32 FMA math.
  bool tf32 = false;
  // Only deterministic cuDNN algorithms, chosen by a deterministic rule (heuristics, never timing), so a
  // seed gives the same weights run to run and across --resume.
  bool deterministic = false;
  AlgoChoice algo = AlgoChoice::Find;
};
// This thread's settings, like its stream: values the CUDA backend makes current before each of its ops
// (the defaults above otherwise). Convolution plans are cached per (shape, settings).
void set_settings(const Settings& s);
const Settings& settings();
// Shorthands for the TF32 field of this thread's settings.
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
