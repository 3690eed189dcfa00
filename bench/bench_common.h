// What every op benchmark shares: the op harness's cases at the benchmark batch (the presets' real
// networks, tests/harness/op_cases.cpp), their registration as BM_<op>_<Impl>/<label>, the one-time
// agreement check before timing, and the images/FLOP/byte rate counters. Used by bench/*.cpp and
// bench/cuda/*.cpp.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend.h"
#include "harness/op_harness.h"

namespace digits::bench {

inline constexpr int kBatch = harness::kBenchBatch;

inline void set_rates(benchmark::State& state, double images, double flops, double bytes) {
  state.SetItemsProcessed(int64_t(images) * state.iterations());
  if (flops > 0) state.counters["FLOP/s"] = benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
  if (bytes > 0) state.SetBytesProcessed(int64_t(bytes) * state.iterations());
}

// The harness's cases at the benchmark batch: the presets' networks, no awkward shapes.
inline const std::vector<harness::OpCase>& bench_cases() {
  static const std::vector<harness::OpCase> cases = harness::op_cases(kBatch, false);
  return cases;
}

// The same (op, label) at the tests' small batch: what is checked before timing (the reference conv at
// batch 128 would take minutes).
inline const harness::OpCase* small_case(const harness::OpCase& c) {
  for (const harness::OpCase& s : harness::test_cases())
    if (s.op == c.op && s.label == c.label) return &s;
  return nullptr;
}

// An implementation variant that Backend does not reach (Winograd off, cuDNN vs direct kernels): how to
// run a case of the table with it, on the case's own tensors. Null: the case's own run (the Backend op).
using Variant = std::function<std::function<void(Backend&, const harness::Args&)>(const harness::OpCase&)>;
inline harness::OpCase with_variant(const harness::OpCase& c, const Variant& v) {
  harness::OpCase r = c;
  if (v) r.run = v(c);
  return r;
}

// Runs c's small-batch twin (with `variant`) on `be` and on `oracle` once per process and (impl, case);
// false after SkipWithError naming the op, label, shape and worst errors when they disagree.
inline bool validated_once(benchmark::State& state, const harness::OpCase& c, const std::string& impl, Backend& be,
                           Backend& oracle, const Variant& variant = nullptr) {
  static std::map<std::string, std::string> verdicts;
  const std::string key = impl + " " + c.op + " " + c.label;
  auto it = verdicts.find(key);
  if (it == verdicts.end()) {
    std::string mismatch;
    if (const harness::OpCase* small = small_case(c)) {
      const harness::OpCase s = with_variant(*small, variant);
      const auto in = harness::make_tensors(s);
      mismatch = harness::compare_outputs(s, harness::run_case(be, s, in), harness::run_case(oracle, *small, in));
    }
    it = verdicts.emplace(key, mismatch).first;
  }
  if (!it->second.empty()) state.SkipWithError((impl + " disagrees with " + oracle.name() + ": " + it->second).c_str());
  return it->second.empty();
}

// Registers fn(state, case) as BM_<op>_<impl>/<label> for every benchmark case `keep` accepts.
using CaseBenchmark = std::function<void(benchmark::State&, const harness::OpCase&)>;
inline std::vector<benchmark::internal::Benchmark*> register_cases(const std::string& impl, const CaseBenchmark& fn,
                                                                   const std::function<bool(const harness::OpCase&)>& keep = nullptr) {
  std::vector<benchmark::internal::Benchmark*> r;
  for (const harness::OpCase& c : bench_cases())
    if (!keep || keep(c))
      r.push_back(benchmark::RegisterBenchmark(("BM_" + c.op + "_" + impl + "/" + c.label).c_str(),
                                               [fn, &c](benchmark::State& st) { fn(st, c); }));
  return r;
}

}  // namespace digits::bench
