// BM_AugmentBatch_Cpu: cpu::augment_batch on a batch of 128 MNIST-sized images (28 x 28) drawn from a
// resident set of 60000, with every bound 0 (aug:0, the cost of resampling alone) and with the trainer's
// bounds (aug:1). BM_GatherBatch_Cpu (bench_cpu_ops.cpp) is the same batch without augmentation; run both
// with --benchmark_filter='BM_(Augment|Gather)Batch_Cpu'. Each case is checked once against
// digits::reference before it is timed. Items are images; bytes count the uint8 read and the float written.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench_common.h"
#include "cpu/cpu_ops.h"
#include "reference/reference_ops.h"

namespace {

using namespace digits;
namespace ref = digits::reference;

using namespace digits::bench;

constexpr float kScale = 1.0f / (255.0f * 0.3081f), kShift = -0.1307f / 0.3081f;

// aug:0 = no augmentation; aug:1 = rotate 15 deg, zoom 0.15, shear 0.2, translate 3 px, elastic 2 px.
AugmentParams params_from(int64_t aug) { return aug ? AugmentParams{15.f, 0.15f, 0.2f, 3.f, 2.f} : AugmentParams{}; }

struct Data {
  std::vector<uint8_t> images, labels;
  std::vector<int32_t> index;
};
Data make_data(int count, int pixels, int n, uint64_t seed) {
  Data d{std::vector<uint8_t>(size_t(count) * pixels), std::vector<uint8_t>(size_t(count)), std::vector<int32_t>(size_t(n))};
  std::mt19937_64 rng(seed);
  for (auto& v : d.images) v = uint8_t(rng());
  for (auto& v : d.labels) v = uint8_t(rng() % 10);
  for (auto& i : d.index) i = int32_t(rng() % uint64_t(count));
  return d;
}

// cpu vs reference on 4 images: |a - e| <= 1e-4 of the value range 255 * scale (tests/unit/augment_test.cpp).
bool check_augment(const benchmark::State& st) {
  const int n = 4, H = int(st.range(1)), W = int(st.range(2));
  const Data d = make_data(50, H * W, n, 1);
  const AugmentParams a = params_from(st.range(3));
  std::vector<float> x(size_t(n) * H * W), want(x.size());
  std::vector<int32_t> lo(n), want_lo(n);
  cpu::augment_batch(n, H, W, d.images.data(), d.labels.data(), d.index.data(), a, 7, kScale, kShift, x.data(), lo.data());
  ref::augment_batch(n, H, W, d.images.data(), d.labels.data(), d.index.data(), a, 7, kScale, kShift, want.data(),
                     want_lo.data());
  const double atol = 1e-4 * 255.0 * kScale;
  for (size_t i = 0; i < x.size(); ++i)
    if (!(std::fabs(double(x[i]) - double(want[i])) <= atol)) return false;
  return lo == want_lo;
}

// Runs check_augment once per argument set in the process; false makes the case skip with an error.
bool validated_once(benchmark::State& state) {
  static std::mutex mu;
  static std::set<std::string> done;
  std::string key;
  for (int i = 0; i < 4; ++i) key.append(1, '/').append(std::to_string(state.range(i)));
  std::lock_guard<std::mutex> lock(mu);
  if (done.count(key)) return true;
  if (!check_augment(state)) {
    state.SkipWithError(("cpu augment_batch differs from reference for " + key).c_str());
    return false;
  }
  done.insert(key);
  return true;
}

void BM_AugmentBatch_Cpu(benchmark::State& state) {
  if (!validated_once(state)) return;
  const int n = int(state.range(0)), H = int(state.range(1)), W = int(state.range(2)), count = 60000;
  const AugmentParams a = params_from(state.range(3));
  const Data d = make_data(count, H * W, n, 15);
  std::vector<float> x(size_t(n) * H * W);
  std::vector<int32_t> lo(n);
  uint64_t seed = 0;
  for (auto _ : state) {
    cpu::augment_batch(n, H, W, d.images.data(), d.labels.data(), d.index.data(), a, seed++, kScale, kShift, x.data(),
                       lo.data());
    benchmark::DoNotOptimize(x.data());
  }
  set_rates(state, n, 0, 5.0 * double(n) * H * W);
}
BENCHMARK(BM_AugmentBatch_Cpu)
    ->ArgNames({"N", "H", "W", "aug"})
    ->Args({kBatch, 28, 28, 0})
    ->Args({kBatch, 28, 28, 1})
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
