// The roofline model (Williams, Waterman and Patterson, CACM 2009): an op that does `flops` arithmetic on
// `bytes` of memory traffic, of arithmetic intensity I = flops / bytes, can run at most at
// min(peak FLOP/s, I x peak bytes/s). Below the ridge point I = peak FLOP/s / peak bytes/s the memory
// bounds it, above it the arithmetic. The kernel report (`digits bench --kernels`) places every op there.
#pragma once

namespace digits {

// A machine's measured peaks (never constants: host/peaks.h and the CUDA FMA and copy kernels).
struct MachinePeak {
  double gflops = 0;  // arithmetic, GFLOP/s
  double gbs = 0;     // memory bandwidth, GB/s (1e9 bytes)
};

enum class Bound { Compute, Memory };
const char* to_string(Bound b);  // "compute", "memory"

struct RooflinePoint {
  double intensity = 0;      // FLOP per byte
  double gflops = 0, gbs = 0;  // achieved
  Bound bound = Bound::Memory;  // which peak bounds the op at its intensity
  double pct_of_peak = 0;    // achieved GFLOP/s (compute) or GB/s (memory) over that peak, in %
};

// I at the ridge: peak.gflops / peak.gbs. requires: both peaks > 0.
double ridge_intensity(const MachinePeak& peak);
// min(peak.gflops, intensity x peak.gbs).
double attainable_gflops(double intensity, const MachinePeak& peak);
// The op's point. requires: seconds > 0, flops >= 0, bytes >= 0, flops + bytes > 0, both peaks > 0;
// else digits::Error. An op that moves no bytes is compute-bound; one without arithmetic, memory-bound.
RooflinePoint roofline(double flops, double bytes, double seconds, const MachinePeak& peak);

}  // namespace digits
