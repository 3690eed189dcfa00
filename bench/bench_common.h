// What every op benchmark shares: the networks' real shapes (batch 128), argument plumbing for Google
// Benchmark, FLOP counts and the images/FLOP/byte rate counters. Used by bench/*.cpp and bench/cuda/*.cpp.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "shapes.h"

namespace digits::bench {

inline constexpr int kBatch = 128;

inline void set_rates(benchmark::State& state, double images, double flops, double bytes) {
  state.SetItemsProcessed(int64_t(images) * state.iterations());
  if (flops > 0) state.counters["FLOP/s"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
  if (bytes > 0) state.SetBytesProcessed(int64_t(bytes) * state.iterations());
}

// ---- the networks' convolutions ----------------------------------------------------------------
struct NamedConv {
  const char* name;
  ConvShape s;
};
// clang-format off
inline const NamedConv kConvs[] = {
    //                     N      C   H   W   K  R  S  pad
    {"seed.conv1",  ConvShape{kBatch,  1, 28, 28, 32, 5, 5, 0}},
    {"seed.conv2",  ConvShape{kBatch, 32, 12, 12, 64, 3, 3, 0}},
    {"keras.conv1", ConvShape{kBatch,  1, 28, 28, 32, 3, 3, 0}},
    {"keras.conv2", ConvShape{kBatch, 32, 26, 26, 64, 3, 3, 0}},
};
// clang-format on

inline ConvShape conv_from(const benchmark::State& st) {
  return ConvShape{int(st.range(0)), int(st.range(1)), int(st.range(2)), int(st.range(3)),
                   int(st.range(4)), int(st.range(5)), int(st.range(6)), int(st.range(7))};
}
inline void conv_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "C", "H", "W", "K", "R", "S", "pad"});
  for (const auto& c : kConvs) b->Args({c.s.N, c.s.C, c.s.H, c.s.W, c.s.K, c.s.R, c.s.S, c.s.pad});
}
inline std::string conv_label(const ConvShape& s) {
  for (const auto& c : kConvs)
    if (c.s.C == s.C && c.s.H == s.H && c.s.K == s.K && c.s.R == s.R) return c.name;
  return "";
}
inline double conv_flops(const ConvShape& s) { return 2.0 * s.N * s.K * s.C * s.R * s.S * s.P() * s.Q(); }
// The same shape at batch 2: checking against the reference before timing stays quick.
inline ConvShape small_batch(ConvShape s) {
  s.N = 2;
  return s;
}

}  // namespace digits::bench
