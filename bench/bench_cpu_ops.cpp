// Google Benchmark cases BM_<Op>_Cpu for the digits::cpu ops at the real shapes of the `seed` and
// `keras` networks at batch 128 (the label names the layer). Each case is checked once against
// digits::reference at batch 2 before it is timed. Items are images; FLOP/s and bytes/s are rates
// (FLOP/s counts direct-convolution FLOPs, also for Winograd, so the algorithms compare directly).
// DIGITS_CPU_THREADS=n picks the thread count (default: all cores); the context line names it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench_common.h"
#include "backend.h"
#include "cpu/cpu_ops.h"
#include "cpu/cpu_winograd.h"
#include "reference/reference_ops.h"

namespace {

using namespace digits;
namespace ref = digits::reference;

using namespace digits::bench;

// ---- data and validation -----------------------------------------------------------------------
std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Element-wise |a - e| <= atol + rtol |e| (the kConvGemm / kReduction tolerances of tests/testing/compare.h).
bool agrees(const std::vector<float>& a, const std::vector<float>& e, double atol = 1e-5, double rtol = 1e-4) {
  if (a.size() != e.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::fabs(double(a[i]) - double(e[i])) <= atol + rtol * std::fabs(double(e[i])))) return false;
  return true;
}

// Runs `check` once per (benchmark, arguments) in the process; false makes the case skip with an error.
// `nargs` is the number of arguments the case was registered with.
bool validated_once(benchmark::State& state, int nargs, const std::string& key,
                    bool (*check)(const benchmark::State&)) {
  static std::mutex mu;
  static std::set<std::string> done;
  std::string k = key;
  for (int i = 0; i < nargs; ++i) k.append(1, '/').append(std::to_string(state.range(i)));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (done.count(k)) return true;
  }
  if (!check(state)) {
    state.SkipWithError(("cpu result differs from reference for " + k).c_str());
    return false;
  }
  std::lock_guard<std::mutex> lock(mu);
  done.insert(k);
  return true;
}

// ---- convolution -------------------------------------------------------------------------------
bool check_conv_forward(const benchmark::State& st) {
  const ConvShape s = small_batch(conv_from(st));
  const auto x = random_floats(s.in_size(), 1), w = random_floats(s.weight_size(), 2);
  std::vector<float> y(s.out_size()), want(s.out_size());
  cpu::conv2d_forward(s, x.data(), w.data(), y.data());
  ref::conv2d_forward(s, x.data(), w.data(), want.data());
  return agrees(y, want);
}
void BM_Conv2dForward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 8, "conv2d_forward", check_conv_forward)) return;
  const ConvShape s = conv_from(state);
  const auto x = random_floats(s.in_size(), 1), w = random_floats(s.weight_size(), 2);
  std::vector<float> y(s.out_size());
  for (auto _ : state) {
    cpu::conv2d_forward(s, x.data(), w.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(conv_label(s));
  set_rates(state, s.N, conv_flops(s), 0);
}
BENCHMARK(BM_Conv2dForward_Cpu)->Apply(conv_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMillisecond);

bool check_conv_backward_data(const benchmark::State& st) {
  const ConvShape s = small_batch(conv_from(st));
  const auto dy = random_floats(s.out_size(), 3), w = random_floats(s.weight_size(), 2);
  std::vector<float> dx(s.in_size()), want(s.in_size());
  cpu::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
  ref::conv2d_backward_data(s, dy.data(), w.data(), want.data());
  return agrees(dx, want);
}
void BM_Conv2dBackwardData_Cpu(benchmark::State& state) {
  if (!validated_once(state, 8, "conv2d_backward_data", check_conv_backward_data)) return;
  const ConvShape s = conv_from(state);
  const auto dy = random_floats(s.out_size(), 3), w = random_floats(s.weight_size(), 2);
  std::vector<float> dx(s.in_size());
  for (auto _ : state) {
    cpu::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetLabel(conv_label(s));
  set_rates(state, s.N, conv_flops(s), 0);
}
BENCHMARK(BM_Conv2dBackwardData_Cpu)->Apply(conv_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMillisecond);

bool check_conv_backward_filter(const benchmark::State& st) {
  const ConvShape s = small_batch(conv_from(st));
  const auto x = random_floats(s.in_size(), 1), dy = random_floats(s.out_size(), 3);
  std::vector<float> dw(s.weight_size()), want(s.weight_size());
  cpu::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
  ref::conv2d_backward_filter(s, x.data(), dy.data(), want.data());
  return agrees(dw, want);
}
void BM_Conv2dBackwardFilter_Cpu(benchmark::State& state) {
  if (!validated_once(state, 8, "conv2d_backward_filter", check_conv_backward_filter)) return;
  const ConvShape s = conv_from(state);
  const auto x = random_floats(s.in_size(), 1), dy = random_floats(s.out_size(), 3);
  std::vector<float> dw(s.weight_size());
  for (auto _ : state) {
    cpu::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
    benchmark::DoNotOptimize(dw.data());
  }
  state.SetLabel(conv_label(s));
  set_rates(state, s.N, conv_flops(s), 0);
}
BENCHMARK(BM_Conv2dBackwardFilter_Cpu)->Apply(conv_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMillisecond);

// The same three ops on the 3x3 layers with Winograd switched off (im2col + sgemm), for comparison.
void conv3x3_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "C", "H", "W", "K", "R", "S", "pad"});
  for (const auto& c : kConvs)
    if (c.s.R == 3 && c.s.C > 1) b->Args({c.s.N, c.s.C, c.s.H, c.s.W, c.s.K, c.s.R, c.s.S, c.s.pad});
}
template <int Op>
void BM_Conv2dIm2col(benchmark::State& state) {
  const ConvShape s = conv_from(state);
  const auto x = random_floats(s.in_size(), 1), w = random_floats(s.weight_size(), 2), dy = random_floats(s.out_size(), 3);
  std::vector<float> y(s.out_size()), dx(s.in_size()), dw(s.weight_size());
  cpu::detail::set_winograd_enabled(false);
  constexpr bool (*checks[3])(const benchmark::State&) = {check_conv_forward, check_conv_backward_data,
                                                          check_conv_backward_filter};
  if (!validated_once(state, 8, "im2col" + std::to_string(Op), checks[Op])) {
    cpu::detail::set_winograd_enabled(true);
    return;
  }
  for (auto _ : state) {
    if (Op == 0) cpu::conv2d_forward(s, x.data(), w.data(), y.data());
    if (Op == 1) cpu::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
    if (Op == 2) cpu::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
    benchmark::ClobberMemory();
  }
  cpu::detail::set_winograd_enabled(true);
  state.SetLabel(conv_label(s));
  set_rates(state, s.N, conv_flops(s), 0);
}
void BM_Conv2dForward_CpuIm2col(benchmark::State& state) { BM_Conv2dIm2col<0>(state); }
void BM_Conv2dBackwardData_CpuIm2col(benchmark::State& state) { BM_Conv2dIm2col<1>(state); }
void BM_Conv2dBackwardFilter_CpuIm2col(benchmark::State& state) { BM_Conv2dIm2col<2>(state); }
BENCHMARK(BM_Conv2dForward_CpuIm2col)->Apply(conv3x3_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2dBackwardData_CpuIm2col)->Apply(conv3x3_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv2dBackwardFilter_CpuIm2col)->Apply(conv3x3_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- bias --------------------------------------------------------------------------------------
// (N, C, HW): seed conv1, conv2, dense1; keras conv1, conv2, dense1
void bias_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "C", "HW"});
  for (auto a : {std::vector<int64_t>{kBatch, 32, 576}, {kBatch, 64, 100}, {kBatch, 128, 1}, {kBatch, 32, 676},
                 {kBatch, 64, 576}})
    b->Args(a);
}
bool check_bias(const benchmark::State& st) {
  const int N = 2, C = int(st.range(1)), HW = int(st.range(2));
  const auto dy = random_floats(size_t(N) * C * HW, 4), bias = random_floats(C, 5);
  std::vector<float> db(C), want(C), y = dy, want_y = dy;
  cpu::bias_backward(N, C, HW, dy.data(), db.data());
  ref::bias_backward(N, C, HW, dy.data(), want.data());
  cpu::bias_forward(N, C, HW, bias.data(), y.data());
  ref::bias_forward(N, C, HW, bias.data(), want_y.data());
  return agrees(db, want) && agrees(y, want_y);
}
void BM_BiasForward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 3, "bias", check_bias)) return;
  const int N = int(state.range(0)), C = int(state.range(1)), HW = int(state.range(2));
  const auto bias = random_floats(C, 5);
  auto y = random_floats(size_t(N) * C * HW, 4);
  for (auto _ : state) {
    cpu::bias_forward(N, C, HW, bias.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(state, N, double(y.size()), 2.0 * sizeof(float) * y.size());
}
BENCHMARK(BM_BiasForward_Cpu)->Apply(bias_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_BiasBackward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 3, "bias", check_bias)) return;
  const int N = int(state.range(0)), C = int(state.range(1)), HW = int(state.range(2));
  const auto dy = random_floats(size_t(N) * C * HW, 4);
  std::vector<float> db(C);
  for (auto _ : state) {
    cpu::bias_backward(N, C, HW, dy.data(), db.data());
    benchmark::DoNotOptimize(db.data());
  }
  set_rates(state, N, double(dy.size()), sizeof(float) * double(dy.size()));
}
BENCHMARK(BM_BiasBackward_Cpu)->Apply(bias_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---- max pooling -------------------------------------------------------------------------------
// (N, C, H, W): seed pool1, pool2; keras pool (2x2 windows)
void pool_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "C", "H", "W"});
  for (auto a : {std::vector<int64_t>{kBatch, 32, 24, 24}, {kBatch, 64, 10, 10}, {kBatch, 64, 24, 24}}) b->Args(a);
}
PoolShape pool_from(const benchmark::State& st) {
  return PoolShape{int(st.range(0)), int(st.range(1)), int(st.range(2)), int(st.range(3)), 2};
}
bool check_pool(const benchmark::State& st) {
  PoolShape s = pool_from(st);
  s.N = 2;
  const auto x = random_floats(s.in_size(), 6), dy = random_floats(s.out_size(), 7);
  std::vector<float> y(s.out_size()), want(s.out_size()), dx(s.in_size()), want_dx(s.in_size());
  std::vector<int32_t> am(s.out_size()), want_am(s.out_size());
  cpu::maxpool_forward(s, x.data(), y.data(), am.data());
  ref::maxpool_forward(s, x.data(), want.data(), want_am.data());
  cpu::maxpool_backward(s, dy.data(), am.data(), dx.data());
  ref::maxpool_backward(s, dy.data(), want_am.data(), want_dx.data());
  return y == want && am == want_am && dx == want_dx;
}
void BM_MaxPoolForward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 4, "maxpool", check_pool)) return;
  const PoolShape s = pool_from(state);
  const auto x = random_floats(s.in_size(), 6);
  std::vector<float> y(s.out_size());
  std::vector<int32_t> am(s.out_size());
  for (auto _ : state) {
    cpu::maxpool_forward(s, x.data(), y.data(), am.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(state, s.N, 0, sizeof(float) * double(s.in_size() + 2 * s.out_size()));
}
BENCHMARK(BM_MaxPoolForward_Cpu)->Apply(pool_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_MaxPoolBackward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 4, "maxpool", check_pool)) return;
  const PoolShape s = pool_from(state);
  const auto x = random_floats(s.in_size(), 6), dy = random_floats(s.out_size(), 7);
  std::vector<float> y(s.out_size()), dx(s.in_size());
  std::vector<int32_t> am(s.out_size());
  cpu::maxpool_forward(s, x.data(), y.data(), am.data());
  for (auto _ : state) {
    cpu::maxpool_backward(s, dy.data(), am.data(), dx.data());
    benchmark::DoNotOptimize(dx.data());
  }
  set_rates(state, s.N, 0, sizeof(float) * double(s.in_size() + 2 * s.out_size()));
}
BENCHMARK(BM_MaxPoolBackward_Cpu)->Apply(pool_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---- dense -------------------------------------------------------------------------------------
// (N, in, out): seed dense1..3; keras dense1..2
void dense_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "in", "out"});
  for (auto a : {std::vector<int64_t>{kBatch, 1600, 128}, {kBatch, 128, 64}, {kBatch, 64, 10}, {kBatch, 9216, 128},
                 {kBatch, 128, 10}})
    b->Args(a);
}
DenseShape dense_from(const benchmark::State& st) { return DenseShape{int(st.range(0)), int(st.range(1)), int(st.range(2))}; }
double dense_flops(const DenseShape& s) { return 2.0 * s.N * s.in * s.out; }
bool check_dense(const benchmark::State& st) {
  DenseShape s = dense_from(st);
  s.N = 2;
  const auto x = random_floats(size_t(s.N) * s.in, 8), w = random_floats(size_t(s.out) * s.in, 9),
             dy = random_floats(size_t(s.N) * s.out, 10);
  std::vector<float> y(dy.size()), want_y(dy.size()), dx(x.size()), want_dx(x.size()), dw(w.size()),
      want_dw(w.size());
  cpu::dense_forward(s, x.data(), w.data(), y.data());
  ref::dense_forward(s, x.data(), w.data(), want_y.data());
  cpu::dense_backward_data(s, dy.data(), w.data(), dx.data());
  ref::dense_backward_data(s, dy.data(), w.data(), want_dx.data());
  cpu::dense_backward_weight(s, x.data(), dy.data(), dw.data());
  ref::dense_backward_weight(s, x.data(), dy.data(), want_dw.data());
  return agrees(y, want_y) && agrees(dx, want_dx) && agrees(dw, want_dw);
}
struct DenseData {
  explicit DenseData(const DenseShape& s)
      : x(random_floats(size_t(s.N) * s.in, 8)),
        w(random_floats(size_t(s.out) * s.in, 9)),
        dy(random_floats(size_t(s.N) * s.out, 10)),
        y(dy.size()),
        dx(x.size()),
        dw(w.size()) {}
  std::vector<float> x, w, dy, y, dx, dw;
};
void BM_DenseForward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 3, "dense", check_dense)) return;
  const DenseShape s = dense_from(state);
  DenseData d(s);
  for (auto _ : state) {
    cpu::dense_forward(s, d.x.data(), d.w.data(), d.y.data());
    benchmark::DoNotOptimize(d.y.data());
  }
  set_rates(state, s.N, dense_flops(s), 0);
}
BENCHMARK(BM_DenseForward_Cpu)->Apply(dense_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_DenseBackwardData_Cpu(benchmark::State& state) {
  if (!validated_once(state, 3, "dense", check_dense)) return;
  const DenseShape s = dense_from(state);
  DenseData d(s);
  for (auto _ : state) {
    cpu::dense_backward_data(s, d.dy.data(), d.w.data(), d.dx.data());
    benchmark::DoNotOptimize(d.dx.data());
  }
  set_rates(state, s.N, dense_flops(s), 0);
}
BENCHMARK(BM_DenseBackwardData_Cpu)->Apply(dense_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_DenseBackwardWeight_Cpu(benchmark::State& state) {
  if (!validated_once(state, 3, "dense", check_dense)) return;
  const DenseShape s = dense_from(state);
  DenseData d(s);
  for (auto _ : state) {
    cpu::dense_backward_weight(s, d.x.data(), d.dy.data(), d.dw.data());
    benchmark::DoNotOptimize(d.dw.data());
  }
  set_rates(state, s.N, dense_flops(s), 0);
}
BENCHMARK(BM_DenseBackwardWeight_Cpu)->Apply(dense_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---- activations -------------------------------------------------------------------------------
// element counts at batch 128: seed conv1, conv2, dense1 outputs; keras conv1, conv2 outputs
void relu_args(benchmark::internal::Benchmark* b) {
  b->ArgName("n");
  for (int64_t n : {kBatch * 32 * 576, kBatch * 64 * 100, kBatch * 128, kBatch * 32 * 676, kBatch * 64 * 576}) b->Arg(n);
}
bool check_relu(const benchmark::State& st) {
  const size_t n = size_t(std::min<int64_t>(st.range(0), 100000));
  const auto x = random_floats(n, 11), dy = random_floats(n, 12);
  std::vector<float> y(n), want(n), dx(n), want_dx(n);
  cpu::relu_forward(n, x.data(), y.data());
  ref::relu_forward(n, x.data(), want.data());
  cpu::relu_backward(n, want.data(), dy.data(), dx.data());
  ref::relu_backward(n, want.data(), dy.data(), want_dx.data());
  return y == want && dx == want_dx;
}
void BM_ReluForward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 1, "relu", check_relu)) return;
  const size_t n = size_t(state.range(0));
  const auto x = random_floats(n, 11);
  std::vector<float> y(n);
  for (auto _ : state) {
    cpu::relu_forward(n, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(state, kBatch, 0, 2.0 * sizeof(float) * n);
}
BENCHMARK(BM_ReluForward_Cpu)->Apply(relu_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_ReluBackward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 1, "relu", check_relu)) return;
  const size_t n = size_t(state.range(0));
  const auto y = random_floats(n, 11), dy = random_floats(n, 12);
  std::vector<float> dx(n);
  for (auto _ : state) {
    cpu::relu_backward(n, y.data(), dy.data(), dx.data());
    benchmark::DoNotOptimize(dx.data());
  }
  set_rates(state, kBatch, 0, 3.0 * sizeof(float) * n);
}
BENCHMARK(BM_ReluBackward_Cpu)->Apply(relu_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

// (n, rate in percent): seed dropout .3 after dense1, .5 after dense2; keras .25 after the pool, .5 after dense1
void dropout_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "rate%"});
  for (auto a : {std::vector<int64_t>{kBatch * 128, 30}, {kBatch * 64, 50}, {kBatch * 9216, 25}, {kBatch * 128, 50}})
    b->Args(a);
}
bool check_dropout(const benchmark::State& st) {
  const size_t n = size_t(std::min<int64_t>(st.range(0), 100000));
  const float rate = float(st.range(1)) / 100.f;
  const auto x = random_floats(n, 13);
  std::vector<float> y(n), want(n), dx(n), want_dx(n);
  cpu::dropout_forward(n, rate, 42, x.data(), y.data());
  ref::dropout_forward(n, rate, 42, x.data(), want.data());
  cpu::dropout_backward(n, rate, 42, x.data(), dx.data());
  ref::dropout_backward(n, rate, 42, x.data(), want_dx.data());
  return y == want && dx == want_dx;
}
void BM_DropoutForward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 2, "dropout", check_dropout)) return;
  const size_t n = size_t(state.range(0));
  const float rate = float(state.range(1)) / 100.f;
  const auto x = random_floats(n, 13);
  std::vector<float> y(n);
  uint64_t seed = 1;
  for (auto _ : state) {
    cpu::dropout_forward(n, rate, seed++, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(state, kBatch, 0, 2.0 * sizeof(float) * n);
}
BENCHMARK(BM_DropoutForward_Cpu)->Apply(dropout_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_DropoutBackward_Cpu(benchmark::State& state) {
  if (!validated_once(state, 2, "dropout", check_dropout)) return;
  const size_t n = size_t(state.range(0));
  const float rate = float(state.range(1)) / 100.f;
  const auto dy = random_floats(n, 13);
  std::vector<float> dx(n);
  uint64_t seed = 1;
  for (auto _ : state) {
    cpu::dropout_backward(n, rate, seed++, dy.data(), dx.data());
    benchmark::DoNotOptimize(dx.data());
  }
  set_rates(state, kBatch, 0, 2.0 * sizeof(float) * n);
}
BENCHMARK(BM_DropoutBackward_Cpu)->Apply(dropout_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---- softmax cross-entropy, statistics, batches ------------------------------------------------
bool check_softmax(const benchmark::State& st) {
  const int N = int(st.range(0)), K = int(st.range(1));
  const auto logits = random_floats(size_t(N) * K, 14, -5, 5);
  std::vector<int32_t> labels(N);
  for (int i = 0; i < N; ++i) labels[i] = i % K;
  std::vector<float> p(logits.size()), l(N), d(logits.size()), wp(p.size()), wl(N), wd(d.size());
  cpu::softmax_xent(N, K, logits.data(), labels.data(), p.data(), l.data(), d.data(), 1.f / N);
  ref::softmax_xent(N, K, logits.data(), labels.data(), wp.data(), wl.data(), wd.data(), 1.f / N);
  return agrees(p, wp) && agrees(l, wl) && agrees(d, wd);
}
void BM_SoftmaxXent_Cpu(benchmark::State& state) {
  if (!validated_once(state, 2, "softmax_xent", check_softmax)) return;
  const int N = int(state.range(0)), K = int(state.range(1));
  const auto logits = random_floats(size_t(N) * K, 14, -5, 5);
  std::vector<int32_t> labels(N);
  for (int i = 0; i < N; ++i) labels[i] = i % K;
  std::vector<float> p(logits.size()), l(N), d(logits.size());
  double stats[2] = {0, 0};
  for (auto _ : state) {
    cpu::softmax_xent(N, K, logits.data(), labels.data(), p.data(), l.data(), d.data(), 1.f / N);
    cpu::accumulate_stats(N, K, p.data(), labels.data(), l.data(), stats);
    benchmark::DoNotOptimize(d.data());
  }
  set_rates(state, N, 0, sizeof(float) * 3.0 * double(logits.size()));
}
BENCHMARK(BM_SoftmaxXent_Cpu)->Args({kBatch, 10})->ArgNames({"N", "K"})->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

bool check_gather(const benchmark::State& st) {
  const int n = 4, pixels = int(st.range(1)), count = 50;
  std::vector<uint8_t> images(size_t(count) * pixels), labels(count);
  for (size_t i = 0; i < images.size(); ++i) images[i] = uint8_t(i * 7);
  const std::vector<int32_t> index{3, 49, 0, 3};
  std::vector<float> x(size_t(n) * pixels), want(x.size());
  std::vector<int32_t> lo(n), want_lo(n);
  cpu::gather_batch(n, pixels, images.data(), labels.data(), index.data(), 1 / 255.f, -0.5f, x.data(), lo.data());
  ref::gather_batch(n, pixels, images.data(), labels.data(), index.data(), 1 / 255.f, -0.5f, want.data(), want_lo.data());
  return agrees(x, want, 1e-6, 1e-6) && lo == want_lo;
}
void BM_GatherBatch_Cpu(benchmark::State& state) {
  if (!validated_once(state, 2, "gather_batch", check_gather)) return;
  const int n = int(state.range(0)), pixels = int(state.range(1)), count = 60000;
  std::vector<uint8_t> images(size_t(count) * pixels), labels(count);
  std::mt19937 rng(15);
  for (auto& v : images) v = uint8_t(rng());
  std::vector<int32_t> index(n);
  for (auto& i : index) i = int32_t(rng() % count);
  std::vector<float> x(size_t(n) * pixels);
  std::vector<int32_t> lo(n);
  for (auto _ : state) {
    cpu::gather_batch(n, pixels, images.data(), labels.data(), index.data(), 1 / 255.f, -0.5f, x.data(), lo.data());
    benchmark::DoNotOptimize(x.data());
  }
  set_rates(state, n, 0, 5.0 * double(n) * pixels);
}
BENCHMARK(BM_GatherBatch_Cpu)->Args({kBatch, 784})->ArgNames({"N", "pixels"})->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---- optimizers --------------------------------------------------------------------------------
// all parameters of the network in one buffer: seed 233162, keras 1199882
void optimizer_args(benchmark::internal::Benchmark* b) {
  b->ArgName("params");
  b->Arg(233162)->Arg(1199882);
}
bool check_adadelta(const benchmark::State& st) {
  const size_t n = size_t(std::min<int64_t>(st.range(0), 100000));
  auto w = random_floats(n, 16), a = random_floats(n, 17, 0.f, 0.1f), u = random_floats(n, 18, 0.f, 0.01f);
  const auto g = random_floats(n, 19);
  auto w2 = w, a2 = a, u2 = u;
  cpu::adadelta_update(n, AdadeltaParams{}, w.data(), g.data(), a.data(), u.data());
  ref::adadelta_update(n, AdadeltaParams{}, w2.data(), g.data(), a2.data(), u2.data());
  return agrees(w, w2, 1e-6, 1e-5) && agrees(a, a2, 1e-6, 1e-5) && agrees(u, u2, 1e-6, 1e-5);
}
void BM_AdadeltaUpdate_Cpu(benchmark::State& state) {
  if (!validated_once(state, 1, "adadelta", check_adadelta)) return;
  const size_t n = size_t(state.range(0));
  auto w = random_floats(n, 16), a = random_floats(n, 17, 0.f, 0.1f), u = random_floats(n, 18, 0.f, 0.01f);
  const auto g = random_floats(n, 19, -1e-3f, 1e-3f);
  for (auto _ : state) {
    cpu::adadelta_update(n, AdadeltaParams{}, w.data(), g.data(), a.data(), u.data());
    benchmark::DoNotOptimize(w.data());
  }
  set_rates(state, kBatch, 0, 7.0 * sizeof(float) * n);  // reads w, g, a, u; writes w, a, u
}
BENCHMARK(BM_AdadeltaUpdate_Cpu)->Apply(optimizer_args)->MeasureProcessCPUTime()->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---- one training step of each network, op by op -----------------------------------------------
// The op sequence a training step issues for `seed` (arg 0) and `keras` (arg 1) at batch 128: batch
// gathering, forward, softmax cross-entropy, backward (no data gradient for the first layer) and
// Adadelta over all parameters. Layer code adds little on top, so s/epoch (469 steps) estimates an
// epoch of `digits train` on this backend.
struct StepNet {
  std::vector<ConvShape> convs;  // each followed by bias and ReLU
  std::vector<int> pool_after;   // conv index followed by a 2x2 max pool (-1: none)
  float conv_dropout = 0;        // after the last pool (keras: 0.25)
  std::vector<DenseShape> dense; // each but the last followed by bias, ReLU, dropout
  std::vector<float> dense_dropout;
};

StepNet step_net(int which) {
  StepNet n;
  if (which == 0) {
    n.convs = {ConvShape{kBatch, 1, 28, 28, 32, 5, 5, 0}, ConvShape{kBatch, 32, 12, 12, 64, 3, 3, 0}};
    n.pool_after = {0, 1};
    n.dense = {DenseShape{kBatch, 1600, 128}, DenseShape{kBatch, 128, 64}, DenseShape{kBatch, 64, 10}};
    n.dense_dropout = {0.3f, 0.5f};
  } else {
    n.convs = {ConvShape{kBatch, 1, 28, 28, 32, 3, 3, 0}, ConvShape{kBatch, 32, 26, 26, 64, 3, 3, 0}};
    n.pool_after = {-1, 1};
    n.conv_dropout = 0.25f;
    n.dense = {DenseShape{kBatch, 9216, 128}, DenseShape{kBatch, 128, 10}};
    n.dense_dropout = {0.5f};
  }
  return n;
}

void BM_TrainStep_Cpu(benchmark::State& state) {
  const StepNet net = step_net(int(state.range(0)));
  const int N = kBatch, count = 60000, pixels = 784;
  // data set and parameters
  std::vector<uint8_t> images(size_t(count) * pixels), labels(count);
  for (size_t i = 0; i < images.size(); ++i) images[i] = uint8_t((i * 2654435761u) >> 24);  // cheap, varied
  for (int i = 0; i < count; ++i) labels[i] = uint8_t(i % 10);
  std::mt19937 rng(20);
  std::vector<int32_t> index(N), lab(N);
  size_t nparams = 0;
  for (const auto& c : net.convs) nparams += c.weight_size() + size_t(c.K);
  for (const auto& d : net.dense) nparams += size_t(d.in) * d.out + size_t(d.out);
  auto params = random_floats(nparams, 21, -0.05f, 0.05f);
  std::vector<float> grads(nparams), acc_g(nparams, 0.f), acc_d(nparams, 0.f);
  // activations: a[i] is the input of stage i, with pooled and pre-pool copies kept for backward
  struct ConvAct {
    std::vector<float> x, y, pooled, dy, dpooled;
    std::vector<int32_t> argmax;
    PoolShape pool;
  };
  std::vector<ConvAct> ca(net.convs.size());
  for (size_t i = 0; i < net.convs.size(); ++i) {
    const ConvShape& c = net.convs[i];
    ca[i].x.resize(c.in_size());
    ca[i].y.resize(c.out_size());
    ca[i].dy.resize(c.out_size());
    if (net.pool_after[i] >= 0) {
      ca[i].pool = PoolShape{N, c.K, c.P(), c.Q(), 2};
      ca[i].pooled.resize(ca[i].pool.out_size());
      ca[i].dpooled.resize(ca[i].pool.out_size());
      ca[i].argmax.resize(ca[i].pool.out_size());
    }
  }
  std::vector<std::vector<float>> dx_in(net.dense.size()), dy_out(net.dense.size()), d_in(net.dense.size()),
      d_out(net.dense.size());
  for (size_t i = 0; i < net.dense.size(); ++i) {
    d_in[i].resize(size_t(N) * net.dense[i].in);
    dx_in[i].resize(d_in[i].size());
    d_out[i].resize(size_t(N) * net.dense[i].out);
    dy_out[i].resize(d_out[i].size());
  }
  std::vector<float> probs(size_t(N) * 10), loss(N);
  double stats[2] = {0, 0};
  uint64_t step = 0;

  for (auto _ : state) {
    ++step;
    for (auto& i : index) i = int32_t(rng() % count);
    cpu::gather_batch(N, pixels, images.data(), labels.data(), index.data(), 1 / 255.f, -0.5f, ca[0].x.data(),
                      lab.data());
    // forward
    float* p = params.data();
    for (size_t i = 0; i < net.convs.size(); ++i) {
      const ConvShape& c = net.convs[i];
      cpu::conv2d_forward(c, ca[i].x.data(), p, ca[i].y.data());
      cpu::bias_forward(N, c.K, c.P() * c.Q(), p + c.weight_size(), ca[i].y.data());
      cpu::relu_forward(ca[i].y.size(), ca[i].y.data(), ca[i].y.data());
      p += c.weight_size() + c.K;
      const float* out = ca[i].y.data();
      if (net.pool_after[i] >= 0) {
        cpu::maxpool_forward(ca[i].pool, ca[i].y.data(), ca[i].pooled.data(), ca[i].argmax.data());
        out = ca[i].pooled.data();
      }
      std::vector<float>& next = i + 1 < net.convs.size() ? ca[i + 1].x : d_in[0];
      const size_t n_out = i + 1 < net.convs.size() ? ca[i + 1].x.size() : d_in[0].size();
      if (i + 1 == net.convs.size() && net.conv_dropout > 0)
        cpu::dropout_forward(n_out, net.conv_dropout, step * 7 + 1, out, next.data());
      else
        std::copy(out, out + n_out, next.begin());
    }
    for (size_t i = 0; i < net.dense.size(); ++i) {
      const DenseShape& d = net.dense[i];
      cpu::dense_forward(d, d_in[i].data(), p, d_out[i].data());
      cpu::bias_forward(N, d.out, 1, p + size_t(d.in) * d.out, d_out[i].data());
      p += size_t(d.in) * d.out + d.out;
      if (i + 1 < net.dense.size()) {
        cpu::relu_forward(d_out[i].size(), d_out[i].data(), d_out[i].data());
        cpu::dropout_forward(d_out[i].size(), net.dense_dropout[i], step * 7 + 2 + i, d_out[i].data(),
                             d_in[i + 1].data());
      }
    }
    cpu::softmax_xent(N, 10, d_out.back().data(), lab.data(), probs.data(), loss.data(), dy_out.back().data(),
                      1.f / N);
    cpu::accumulate_stats(N, 10, probs.data(), lab.data(), loss.data(), stats);
    // backward, last layer first; gradients are laid out like the parameters
    float* g = grads.data() + nparams;
    const float* pw = params.data() + nparams;
    for (size_t i = net.dense.size(); i-- > 0;) {
      const DenseShape& d = net.dense[i];
      g -= size_t(d.in) * d.out + d.out;
      pw -= size_t(d.in) * d.out + d.out;
      if (i + 1 < net.dense.size()) {
        cpu::dropout_backward(d_out[i].size(), net.dense_dropout[i], step * 7 + 2 + i, dx_in[i + 1].data(),
                              dy_out[i].data());
        cpu::relu_backward(d_out[i].size(), d_out[i].data(), dy_out[i].data(), dy_out[i].data());
      }
      cpu::dense_backward_weight(d, d_in[i].data(), dy_out[i].data(), g);
      cpu::bias_backward(N, d.out, 1, dy_out[i].data(), g + size_t(d.in) * d.out);
      cpu::dense_backward_data(d, dy_out[i].data(), pw, dx_in[i].data());
    }
    for (size_t i = net.convs.size(); i-- > 0;) {
      const ConvShape& c = net.convs[i];
      g -= c.weight_size() + c.K;
      pw -= c.weight_size() + c.K;
      const bool pooled = net.pool_after[i] >= 0;
      float* dout = pooled ? ca[i].dpooled.data() : ca[i].dy.data();  // gradient of this stage's output
      if (i + 1 == net.convs.size()) {
        if (net.conv_dropout > 0)
          cpu::dropout_backward(d_in[0].size(), net.conv_dropout, step * 7 + 1, dx_in[0].data(), dout);
        else
          std::copy(dx_in[0].begin(), dx_in[0].end(), dout);
      }
      if (pooled) cpu::maxpool_backward(ca[i].pool, dout, ca[i].argmax.data(), ca[i].dy.data());
      cpu::relu_backward(ca[i].y.size(), ca[i].y.data(), ca[i].dy.data(), ca[i].dy.data());
      cpu::bias_backward(N, c.K, c.P() * c.Q(), ca[i].dy.data(), g + c.weight_size());
      cpu::conv2d_backward_filter(c, ca[i].x.data(), ca[i].dy.data(), g);
      if (i > 0)
        cpu::conv2d_backward_data(c, ca[i].dy.data(), pw,
                                  net.pool_after[i - 1] >= 0 ? ca[i - 1].dpooled.data() : ca[i - 1].dy.data());
    }
    cpu::adadelta_update(nparams, AdadeltaParams{}, params.data(), grads.data(), acc_g.data(), acc_d.data());
    benchmark::DoNotOptimize(params.data());
  }
  state.SetLabel(state.range(0) == 0 ? "seed" : "keras");
  state.SetItemsProcessed(int64_t(N) * state.iterations());
  // seconds per epoch of 469 steps: the inverse of the rate of (iterations / 469)
  state.counters["s/epoch"] =
      benchmark::Counter(double(state.iterations()) / 469.0, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
// min over repetitions (--benchmark_repetitions) is the number to read on a machine shared with others
BENCHMARK(BM_TrainStep_Cpu)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("net")
    ->MeasureProcessCPUTime()
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });

// ---- context -----------------------------------------------------------------------------------
const int kContext = [] {
  const char* env = std::getenv("DIGITS_CPU_THREADS");
  const int threads = env ? std::atoi(env) : 0;
  benchmark::AddCustomContext("digits_cpu_backend", make_cpu_backend(threads > 0 ? threads : 0)->name());
  return 0;
}();

}  // namespace
