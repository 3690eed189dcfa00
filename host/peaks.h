// The CPU's peaks for the roofline, measured on this machine with the threads the CPU backend uses: an FMA
// throughput loop for every instruction set the CPU has (AVX-512, AVX2 + FMA, SSE; chosen at run time as
// host/cpu does) and STREAM-style copy and triad loops over arrays far larger than the caches.
#pragma once

#include <string>
#include <vector>

#include "roofline.h"

namespace digits {

struct PeakSample {
  std::string name;  // "fma avx512", "fma avx2", "mul+add sse"; "copy", "triad"
  double value = 0;  // GFLOP/s or GB/s
};

// A device's measured peaks: on the CPU, GFLOP/s per instruction set it runs (widest first) and GB/s of
// copy (8 bytes per element) and triad (12 bytes per element); on CUDA, an FMA kernel and a device copy.
struct Peaks {
  std::vector<PeakSample> arithmetic;  // GFLOP/s
  std::vector<PeakSample> bandwidth;   // GB/s
  MachinePeak peak() const;            // the best of each list
};

// Instruction sets this CPU has, of those the FMA loop is written for, widest first (SSE always).
std::vector<std::string> cpu_fma_isas();

// Measures the peaks on `threads` OpenMP threads (>= 1), each number the best of `reps` (>= 1) runs of
// about `seconds` (> 0) each. Arrays: `stream_mib` MiB each (three of them); choose several times the
// last-level cache.
Peaks measure_cpu_peaks(int threads, double seconds, int reps, int stream_mib = 64);

}  // namespace digits
