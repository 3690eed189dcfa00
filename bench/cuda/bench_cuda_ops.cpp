// Google Benchmark cases for the CUDA ops at the real shapes of the `seed` and `keras` networks at batch
// 128: BM_<Op>_Cudnn (cuDNN), BM_<Op>_Cublas (cuBLAS) and BM_<Op>_CudaKernel (ours), side by side where
// both exist. GPU time only: CUDA events around the op (UseManualTime), after one warm-up call (cuDNN's
// algorithm choice). Each case is checked once against digits::cpu at batch 2 before it is timed.
// Items are images; FLOP/s and bytes/s are rates. Without a GPU every case reports "no CUDA device".
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../bench_common.h"
#include "cuda_bench_common.h"
#include "backend.h"
#include "cpu/cpu_ops.h"
#include "cuda_backend.h"
#include "cuda_ops.h"
#include "cuda_variants.h"
#include "device_info.h"

namespace {

using namespace digits;

using namespace digits::bench;

// ---- device, context, timing --------------------------------------------------------------------------

// The GPU's name goes into the run's context (only compare runs made on the same card).
const bool kContextAdded = [] {
  const int n = cuda_device_count();
  if (n == 0) {
    benchmark::AddCustomContext("cuda_device", "none (" + cuda_probe_status() + ")");
    return false;
  }
  const CudaDeviceInfo info = cuda_device_info(0);
  benchmark::AddCustomContext("cuda_device", info.name + " (sm_" + std::to_string(info.cc_major) +
                                                 std::to_string(info.cc_minor) + ")");
  benchmark::AddCustomContext("cuda_tf32", cuda::tf32() ? "on" : "off");
  return true;
}();

// ---- data and validation --------------------------------------------------------------------------------

std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Runs `check` once per (key, arguments) in the process; false makes the case skip with an error.
bool validated_once(benchmark::State& state, Backend& be, int nargs, const std::string& key,
                    bool (*check)(Backend&, const benchmark::State&)) {
  static std::mutex mu;
  static std::set<std::string> done;
  std::string k = key;
  for (int i = 0; i < nargs; ++i) k.append(1, '/').append(std::to_string(state.range(i)));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (done.count(k)) return true;
  }
  if (!check(be, state)) {
    state.SkipWithError(("cuda result differs from cpu for " + k).c_str());
    return false;
  }
  std::lock_guard<std::mutex> lock(mu);
  done.insert(k);
  return true;
}

#define DIGITS_GPU_BENCHMARK(fn, args) \
  BENCHMARK(fn)->Apply(args)->UseManualTime()->Unit(benchmark::kMicrosecond)

// ---- convolution ----------------------------------------------------------------------------------------

struct ConvData {
  ConvData(Backend& be, const ConvShape& s)
      : x(dev(be, random_floats(s.in_size(), 1))), w(dev(be, random_floats(s.weight_size(), 2))),
        dy(dev(be, random_floats(s.out_size(), 3))), y(be, s.out_size()), dx(be, s.in_size()), dw(be, s.weight_size()) {}
  Buffer<float> x, w, dy, y, dx, dw;
};

// Checks the cuDNN and direct-kernel convolutions of all three directions against the CPU.
bool check_conv(Backend& be, const benchmark::State& st) {
  const ConvShape s = small_batch(conv_from(st));
  const auto x = random_floats(s.in_size(), 1), w = random_floats(s.weight_size(), 2), dy = random_floats(s.out_size(), 3);
  std::vector<float> y(s.out_size()), dx(s.in_size()), dw(s.weight_size());
  cpu::conv2d_forward(s, x.data(), w.data(), y.data());
  cpu::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
  cpu::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
  ConvData d(be, s);
  d.x.upload(x), d.w.upload(w), d.dy.upload(dy);
  bool ok = true;
  be.conv2d_forward(s, d.x.data(), d.w.data(), d.y.data());
  ok = ok && agrees(d.y.download(), y);
  cuda::conv2d_forward_direct(s, d.x.data(), d.w.data(), d.y.data());
  ok = ok && agrees(d.y.download(), y);
  be.conv2d_backward_data(s, d.dy.data(), d.w.data(), d.dx.data());
  ok = ok && agrees(d.dx.download(), dx);
  cuda::conv2d_backward_data_direct(s, d.dy.data(), d.w.data(), d.dx.data());
  ok = ok && agrees(d.dx.download(), dx);
  be.conv2d_backward_filter(s, d.x.data(), d.dy.data(), d.dw.data());
  ok = ok && agrees(d.dw.download(), dw);
  cuda::conv2d_backward_filter_direct(s, d.x.data(), d.dy.data(), d.dw.data());
  ok = ok && agrees(d.dw.download(), dw);
  return ok;
}

void BM_Conv2dForward_Cudnn(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 8, "conv2d", check_conv)) return;
  const ConvShape s = conv_from(state);
  ConvData d(*be, s);
  time_gpu(state, [&] { be->conv2d_forward(s, d.x.data(), d.w.data(), d.y.data()); });
  state.SetLabel(conv_label(s) + " " + cuda::conv_algo_names(s).forward);
  set_rates(state, s.N, conv_flops(s), 0);
}
DIGITS_GPU_BENCHMARK(BM_Conv2dForward_Cudnn, conv_args);

void BM_Conv2dForward_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 8, "conv2d", check_conv)) return;
  const ConvShape s = conv_from(state);
  ConvData d(*be, s);
  time_gpu(state, [&] { cuda::conv2d_forward_direct(s, d.x.data(), d.w.data(), d.y.data()); });
  state.SetLabel(conv_label(s) + " direct");
  set_rates(state, s.N, conv_flops(s), 0);
}
DIGITS_GPU_BENCHMARK(BM_Conv2dForward_CudaKernel, conv_args);

void BM_Conv2dBackwardData_Cudnn(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 8, "conv2d", check_conv)) return;
  const ConvShape s = conv_from(state);
  ConvData d(*be, s);
  time_gpu(state, [&] { be->conv2d_backward_data(s, d.dy.data(), d.w.data(), d.dx.data()); });
  state.SetLabel(conv_label(s) + " " + cuda::conv_algo_names(s).backward_data);
  set_rates(state, s.N, conv_flops(s), 0);
}
DIGITS_GPU_BENCHMARK(BM_Conv2dBackwardData_Cudnn, conv_args);

void BM_Conv2dBackwardData_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 8, "conv2d", check_conv)) return;
  const ConvShape s = conv_from(state);
  ConvData d(*be, s);
  time_gpu(state, [&] { cuda::conv2d_backward_data_direct(s, d.dy.data(), d.w.data(), d.dx.data()); });
  state.SetLabel(conv_label(s) + " direct");
  set_rates(state, s.N, conv_flops(s), 0);
}
DIGITS_GPU_BENCHMARK(BM_Conv2dBackwardData_CudaKernel, conv_args);

void BM_Conv2dBackwardFilter_Cudnn(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 8, "conv2d", check_conv)) return;
  const ConvShape s = conv_from(state);
  ConvData d(*be, s);
  time_gpu(state, [&] { be->conv2d_backward_filter(s, d.x.data(), d.dy.data(), d.dw.data()); });
  state.SetLabel(conv_label(s) + " " + cuda::conv_algo_names(s).backward_filter);
  set_rates(state, s.N, conv_flops(s), 0);
}
DIGITS_GPU_BENCHMARK(BM_Conv2dBackwardFilter_Cudnn, conv_args);

void BM_Conv2dBackwardFilter_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 8, "conv2d", check_conv)) return;
  const ConvShape s = conv_from(state);
  ConvData d(*be, s);
  time_gpu(state, [&] { cuda::conv2d_backward_filter_direct(s, d.x.data(), d.dy.data(), d.dw.data()); });
  state.SetLabel(conv_label(s) + " direct");
  set_rates(state, s.N, conv_flops(s), 0);
}
DIGITS_GPU_BENCHMARK(BM_Conv2dBackwardFilter_CudaKernel, conv_args);

// ---- bias -----------------------------------------------------------------------------------------------
// (N, C, HW): seed conv1, conv2, dense1; keras conv1, conv2
void bias_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "C", "HW"});
  for (auto a : {std::vector<int64_t>{kBatch, 32, 576}, {kBatch, 64, 100}, {kBatch, 128, 1}, {kBatch, 32, 676},
                 {kBatch, 64, 576}})
    b->Args(a);
}
bool check_bias(Backend& be, const benchmark::State& st) {
  const int N = 2, C = int(st.range(1)), HW = int(st.range(2));
  const auto y0 = random_floats(size_t(N) * C * HW, 4), b = random_floats(size_t(C), 5);
  auto y = y0;
  std::vector<float> db(static_cast<size_t>(C));
  cpu::bias_forward(N, C, HW, b.data(), y.data());
  cpu::bias_backward(N, C, HW, y0.data(), db.data());
  auto d_y = dev(be, y0), d_b = dev(be, b), d_dy = dev(be, y0), d_db = dev(be, db);
  be.bias_forward(N, C, HW, d_b.data(), d_y.data());
  be.bias_backward(N, C, HW, d_dy.data(), d_db.data());
  return agrees(d_y.download(), y) && agrees(d_db.download(), db);
}
void BM_BiasForward_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 3, "bias", check_bias)) return;
  const int N = int(state.range(0)), C = int(state.range(1)), HW = int(state.range(2));
  const size_t n = size_t(N) * C * HW;
  auto b = dev(*be, random_floats(size_t(C), 5)), y = dev(*be, random_floats(n, 4));
  time_gpu(state, [&] { be->bias_forward(N, C, HW, b.data(), y.data()); });
  set_rates(state, N, double(n), 2.0 * sizeof(float) * double(n));
}
DIGITS_GPU_BENCHMARK(BM_BiasForward_CudaKernel, bias_args);

void BM_BiasBackward_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 3, "bias", check_bias)) return;
  const int N = int(state.range(0)), C = int(state.range(1)), HW = int(state.range(2));
  const size_t n = size_t(N) * C * HW;
  auto dy = dev(*be, random_floats(n, 4));
  Buffer<float> db(*be, size_t(C));
  time_gpu(state, [&] { be->bias_backward(N, C, HW, dy.data(), db.data()); });
  set_rates(state, N, double(n), sizeof(float) * double(n));
}
DIGITS_GPU_BENCHMARK(BM_BiasBackward_CudaKernel, bias_args);

// ---- max pooling ----------------------------------------------------------------------------------------
// (N, C, H, W): seed pool1, pool2; keras pool (2x2 windows)
void pool_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "C", "H", "W"});
  for (auto a : {std::vector<int64_t>{kBatch, 32, 24, 24}, {kBatch, 64, 10, 10}, {kBatch, 64, 24, 24}}) b->Args(a);
}
PoolShape pool_from(const benchmark::State& st) {
  return PoolShape{int(st.range(0)), int(st.range(1)), int(st.range(2)), int(st.range(3)), 2};
}
struct PoolData {
  PoolData(Backend& be, const PoolShape& s)
      : x(dev(be, random_floats(s.in_size(), 6))), dy(dev(be, random_floats(s.out_size(), 7))), y(be, s.out_size()),
        dx(be, s.in_size()), argmax(be, s.out_size()) {}
  Buffer<float> x, dy, y, dx;
  Buffer<int32_t> argmax;
};
bool check_pool(Backend& be, const benchmark::State& st) {
  PoolShape s = pool_from(st);
  s.N = 2;
  const auto x = random_floats(s.in_size(), 6), dy = random_floats(s.out_size(), 7);
  std::vector<float> y(s.out_size()), dx(s.in_size());
  std::vector<int32_t> am(s.out_size());
  cpu::maxpool_forward(s, x.data(), y.data(), am.data());
  cpu::maxpool_backward(s, dy.data(), am.data(), dx.data());
  PoolData d(be, s);
  d.x.upload(x), d.dy.upload(dy);
  be.maxpool_forward(s, d.x.data(), d.y.data(), d.argmax.data());
  bool ok = agrees(d.y.download(), y) && d.argmax.download() == am;
  be.maxpool_backward(s, d.dy.data(), d.argmax.data(), d.dx.data());
  ok = ok && agrees(d.dx.download(), dx);
  cuda::maxpool_forward_cudnn(s, d.x.data(), d.y.data());
  ok = ok && agrees(d.y.download(), y);
  cuda::maxpool_backward_cudnn(s, d.x.data(), d.y.data(), d.dy.data(), d.dx.data());
  return ok && agrees(d.dx.download(), dx);
}
double pool_bytes(const PoolShape& s) { return sizeof(float) * double(s.in_size() + 2 * s.out_size()); }

void BM_MaxPoolForward_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 4, "maxpool", check_pool)) return;
  const PoolShape s = pool_from(state);
  PoolData d(*be, s);
  time_gpu(state, [&] { be->maxpool_forward(s, d.x.data(), d.y.data(), d.argmax.data()); });
  set_rates(state, s.N, 0, pool_bytes(s));
}
DIGITS_GPU_BENCHMARK(BM_MaxPoolForward_CudaKernel, pool_args);

void BM_MaxPoolForward_Cudnn(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 4, "maxpool", check_pool)) return;
  const PoolShape s = pool_from(state);
  PoolData d(*be, s);
  time_gpu(state, [&] { cuda::maxpool_forward_cudnn(s, d.x.data(), d.y.data()); });
  state.SetLabel("no argmax");
  set_rates(state, s.N, 0, sizeof(float) * double(s.in_size() + s.out_size()));
}
DIGITS_GPU_BENCHMARK(BM_MaxPoolForward_Cudnn, pool_args);

void BM_MaxPoolBackward_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 4, "maxpool", check_pool)) return;
  const PoolShape s = pool_from(state);
  PoolData d(*be, s);
  be->maxpool_forward(s, d.x.data(), d.y.data(), d.argmax.data());
  time_gpu(state, [&] { be->maxpool_backward(s, d.dy.data(), d.argmax.data(), d.dx.data()); });
  set_rates(state, s.N, 0, pool_bytes(s));
}
DIGITS_GPU_BENCHMARK(BM_MaxPoolBackward_CudaKernel, pool_args);

void BM_MaxPoolBackward_Cudnn(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 4, "maxpool", check_pool)) return;
  const PoolShape s = pool_from(state);
  PoolData d(*be, s);
  cuda::maxpool_forward_cudnn(s, d.x.data(), d.y.data());
  time_gpu(state, [&] { cuda::maxpool_backward_cudnn(s, d.x.data(), d.y.data(), d.dy.data(), d.dx.data()); });
  state.SetLabel("rereads x and y");
  set_rates(state, s.N, 0, sizeof(float) * double(2 * s.in_size() + 2 * s.out_size()));
}
DIGITS_GPU_BENCHMARK(BM_MaxPoolBackward_Cudnn, pool_args);

// ---- dense ----------------------------------------------------------------------------------------------
// (N, in, out): seed dense1..3; keras dense1..2
void dense_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "in", "out"});
  for (auto a : {std::vector<int64_t>{kBatch, 1600, 128}, {kBatch, 128, 64}, {kBatch, 64, 10}, {kBatch, 9216, 128},
                 {kBatch, 128, 10}})
    b->Args(a);
}
DenseShape dense_from(const benchmark::State& st) { return DenseShape{int(st.range(0)), int(st.range(1)), int(st.range(2))}; }
double dense_flops(const DenseShape& s) { return 2.0 * s.N * s.in * s.out; }
struct DenseData {
  DenseData(Backend& be, const DenseShape& s)
      : x(dev(be, random_floats(size_t(s.N) * s.in, 8))), w(dev(be, random_floats(size_t(s.out) * s.in, 9))),
        dy(dev(be, random_floats(size_t(s.N) * s.out, 10))), y(be, size_t(s.N) * s.out), dx(be, size_t(s.N) * s.in),
        dw(be, size_t(s.out) * s.in) {}
  Buffer<float> x, w, dy, y, dx, dw;
};
bool check_dense(Backend& be, const benchmark::State& st) {
  DenseShape s = dense_from(st);
  s.N = 2;
  const auto x = random_floats(size_t(s.N) * s.in, 8), w = random_floats(size_t(s.out) * s.in, 9),
             dy = random_floats(size_t(s.N) * s.out, 10);
  std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
  cpu::dense_forward(s, x.data(), w.data(), y.data());
  cpu::dense_backward_data(s, dy.data(), w.data(), dx.data());
  cpu::dense_backward_weight(s, x.data(), dy.data(), dw.data());
  DenseData d(be, s);
  d.x.upload(x), d.w.upload(w), d.dy.upload(dy);
  be.dense_forward(s, d.x.data(), d.w.data(), d.y.data());
  be.dense_backward_data(s, d.dy.data(), d.w.data(), d.dx.data());
  be.dense_backward_weight(s, d.x.data(), d.dy.data(), d.dw.data());
  return agrees(d.y.download(), y) && agrees(d.dx.download(), dx) && agrees(d.dw.download(), dw);
}

void BM_DenseForward_Cublas(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 3, "dense", check_dense)) return;
  const DenseShape s = dense_from(state);
  DenseData d(*be, s);
  time_gpu(state, [&] { be->dense_forward(s, d.x.data(), d.w.data(), d.y.data()); });
  set_rates(state, s.N, dense_flops(s), 0);
}
DIGITS_GPU_BENCHMARK(BM_DenseForward_Cublas, dense_args);

void BM_DenseBackwardData_Cublas(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 3, "dense", check_dense)) return;
  const DenseShape s = dense_from(state);
  DenseData d(*be, s);
  time_gpu(state, [&] { be->dense_backward_data(s, d.dy.data(), d.w.data(), d.dx.data()); });
  set_rates(state, s.N, dense_flops(s), 0);
}
DIGITS_GPU_BENCHMARK(BM_DenseBackwardData_Cublas, dense_args);

void BM_DenseBackwardWeight_Cublas(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 3, "dense", check_dense)) return;
  const DenseShape s = dense_from(state);
  DenseData d(*be, s);
  time_gpu(state, [&] { be->dense_backward_weight(s, d.x.data(), d.dy.data(), d.dw.data()); });
  set_rates(state, s.N, dense_flops(s), 0);
}
DIGITS_GPU_BENCHMARK(BM_DenseBackwardWeight_Cublas, dense_args);

// ---- activations and dropout ----------------------------------------------------------------------------
// element counts at batch 128: seed conv1, conv2, dense1 outputs; keras conv1, conv2 outputs
void relu_args(benchmark::internal::Benchmark* b) {
  b->ArgName("n");
  for (int64_t n : {kBatch * 32 * 576, kBatch * 64 * 100, kBatch * 128, kBatch * 32 * 676, kBatch * 64 * 576}) b->Arg(n);
}
bool check_relu(Backend& be, const benchmark::State& st) {
  const size_t n = size_t(std::min<int64_t>(st.range(0), 100000));
  const auto x = random_floats(n, 11), dy = random_floats(n, 12);
  std::vector<float> y(n), dx(n);
  cpu::relu_forward(n, x.data(), y.data());
  cpu::relu_backward(n, y.data(), dy.data(), dx.data());
  auto d_x = dev(be, x), d_dy = dev(be, dy);
  Buffer<float> d_y(be, n), d_dx(be, n);
  be.relu_forward(n, d_x.data(), d_y.data());
  be.relu_backward(n, d_y.data(), d_dy.data(), d_dx.data());
  return d_y.download() == y && d_dx.download() == dx;
}
void BM_ReluForward_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 1, "relu", check_relu)) return;
  const size_t n = size_t(state.range(0));
  auto x = dev(*be, random_floats(n, 11));
  Buffer<float> y(*be, n);
  time_gpu(state, [&] { be->relu_forward(n, x.data(), y.data()); });
  set_rates(state, kBatch, 0, 2.0 * sizeof(float) * double(n));
}
DIGITS_GPU_BENCHMARK(BM_ReluForward_CudaKernel, relu_args);

void BM_ReluBackward_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 1, "relu", check_relu)) return;
  const size_t n = size_t(state.range(0));
  auto y = dev(*be, random_floats(n, 11)), dy = dev(*be, random_floats(n, 12));
  Buffer<float> dx(*be, n);
  time_gpu(state, [&] { be->relu_backward(n, y.data(), dy.data(), dx.data()); });
  set_rates(state, kBatch, 0, 3.0 * sizeof(float) * double(n));
}
DIGITS_GPU_BENCHMARK(BM_ReluBackward_CudaKernel, relu_args);

// (n, rate in percent): seed dropout .3 after dense1, .5 after dense2; keras .25 after the pool, .5 after dense1
void dropout_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "rate%"});
  for (auto a : {std::vector<int64_t>{kBatch * 128, 30}, {kBatch * 64, 50}, {kBatch * 9216, 25}, {kBatch * 128, 50}})
    b->Args(a);
}
bool check_dropout(Backend& be, const benchmark::State& st) {
  const size_t n = size_t(std::min<int64_t>(st.range(0), 100000));
  const float rate = float(st.range(1)) / 100.f;
  const auto x = random_floats(n, 13);
  std::vector<float> y(n);
  cpu::dropout_forward(n, rate, 42, x.data(), y.data());
  auto d_x = dev(be, x);
  Buffer<float> d_y(be, n);
  be.dropout_forward(n, rate, 42, d_x.data(), d_y.data());
  return agrees(d_y.download(), y, 1e-6, 1e-6);
}
void BM_DropoutForward_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 2, "dropout", check_dropout)) return;
  const size_t n = size_t(state.range(0));
  const float rate = float(state.range(1)) / 100.f;
  auto x = dev(*be, random_floats(n, 13));
  Buffer<float> y(*be, n);
  time_gpu(state, [&] { be->dropout_forward(n, rate, 42, x.data(), y.data()); });
  set_rates(state, kBatch, 0, 2.0 * sizeof(float) * double(n));
}
DIGITS_GPU_BENCHMARK(BM_DropoutForward_CudaKernel, dropout_args);

// ---- loss, statistics, batches --------------------------------------------------------------------------

void xent_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "K"});
  b->Args({kBatch, 10});
  b->Args({10000, 10});  // a whole test-set evaluation in one call
}
std::vector<int32_t> random_labels(size_t n, int K, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& l : v) l = int32_t(rng() % uint64_t(K));
  return v;
}
bool check_xent(Backend& be, const benchmark::State& st) {
  const int N = 64, K = int(st.range(1));
  const auto logits = random_floats(size_t(N) * K, 14, -5.f, 5.f);
  const auto labels = random_labels(size_t(N), K, 15);
  std::vector<float> p(logits.size()), l(static_cast<size_t>(N)), d(logits.size());
  cpu::softmax_xent(N, K, logits.data(), labels.data(), p.data(), l.data(), d.data(), 1.0f / N);
  auto d_logits = dev(be, logits);
  auto d_labels = dev(be, labels);
  Buffer<float> d_p(be, p.size()), d_l(be, l.size()), d_d(be, d.size());
  be.softmax_xent(N, K, d_logits.data(), d_labels.data(), d_p.data(), d_l.data(), d_d.data(), 1.0f / N);
  return agrees(d_p.download(), p) && agrees(d_l.download(), l) && agrees(d_d.download(), d);
}
struct XentData {
  XentData(Backend& be, int N, int K)
      : logits(dev(be, random_floats(size_t(N) * K, 14, -5.f, 5.f))), labels(dev(be, random_labels(size_t(N), K, 15))),
        probs(be, size_t(N) * K), loss(be, size_t(N)), dlogits(be, size_t(N) * K), stats(be, 2) {}
  Buffer<float> logits;
  Buffer<int32_t> labels;
  Buffer<float> probs, loss, dlogits;
  Buffer<double> stats;
};
void BM_SoftmaxXent_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 2, "softmax_xent", check_xent)) return;
  const int N = int(state.range(0)), K = int(state.range(1));
  XentData d(*be, N, K);
  time_gpu(state, [&] {
    be->softmax_xent(N, K, d.logits.data(), d.labels.data(), d.probs.data(), d.loss.data(), d.dlogits.data(), 1.0f / N);
  });
  set_rates(state, N, 0, sizeof(float) * (3.0 * N * K + 2.0 * N));
}
DIGITS_GPU_BENCHMARK(BM_SoftmaxXent_CudaKernel, xent_args);

void BM_AccumulateStats_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be) return;
  const int N = int(state.range(0)), K = int(state.range(1));
  XentData d(*be, N, K);
  be->softmax_xent(N, K, d.logits.data(), d.labels.data(), d.probs.data(), d.loss.data(), nullptr, 1.0f);
  time_gpu(state, [&] {
    be->accumulate_stats(N, K, d.probs.data(), d.labels.data(), d.loss.data(), d.stats.data());
  });
  set_rates(state, N, 0, sizeof(float) * (double(N) * K + 2.0 * N));
}
DIGITS_GPU_BENCHMARK(BM_AccumulateStats_CudaKernel, xent_args);

// A batch of 128 (or the whole test set) gathered from a resident training set of 60000 images.
void gather_args(benchmark::internal::Benchmark* b) {
  b->ArgName("n");
  b->Arg(kBatch);
  b->Arg(10000);
}
void BM_GatherBatch_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be) return;
  const int count = 60000, pixels = 784, n = int(state.range(0));
  std::mt19937_64 rng(16);
  std::vector<uint8_t> h_images(size_t(count) * pixels), h_labels(static_cast<size_t>(count));
  for (auto& p : h_images) p = uint8_t(rng());
  for (auto& l : h_labels) l = uint8_t(rng() % 10);
  std::vector<int32_t> h_index(static_cast<size_t>(n));
  for (auto& i : h_index) i = int32_t(rng() % count);
  auto images = dev(*be, h_images), labels = dev(*be, h_labels);
  auto index = dev(*be, h_index);
  Buffer<float> x(*be, size_t(n) * pixels);
  Buffer<int32_t> y(*be, size_t(n));
  // Check once against the CPU.
  std::vector<float> want_x(size_t(n) * pixels);
  std::vector<int32_t> want_y(static_cast<size_t>(n));
  cpu::gather_batch(n, pixels, h_images.data(), h_labels.data(), h_index.data(), 1.f / 255, 0.f, want_x.data(),
                    want_y.data());
  be->gather_batch(n, pixels, images.data(), labels.data(), index.data(), 1.f / 255, 0.f, x.data(), y.data());
  if (!agrees(x.download(), want_x, 1e-6, 1e-6) || y.download() != want_y) {
    state.SkipWithError("cuda gather_batch differs from cpu");
    return;
  }
  time_gpu(state, [&] {
    be->gather_batch(n, pixels, images.data(), labels.data(), index.data(), 1.f / 255, 0.f, x.data(), y.data());
  });
  set_rates(state, n, 0, double(n) * pixels * (1 + sizeof(float)));
}
DIGITS_GPU_BENCHMARK(BM_GatherBatch_CudaKernel, gather_args);

// ---- optimizers -----------------------------------------------------------------------------------------
// parameter counts: seed (233162), keras (1199882)
void optim_args(benchmark::internal::Benchmark* b) {
  b->ArgName("params");
  b->Arg(233162);
  b->Arg(1199882);
}
bool check_optim(Backend& be, const benchmark::State&) {
  const size_t n = 10001;
  auto w = random_floats(n, 17);
  const auto g = random_floats(n, 18);
  std::vector<float> a(n, 0.f), u(n, 0.f);
  auto d_w = dev(be, w), d_g = dev(be, g), d_a = dev(be, a), d_u = dev(be, u);
  cpu::adadelta_update(n, AdadeltaParams{}, w.data(), g.data(), a.data(), u.data());
  be.adadelta_update(n, AdadeltaParams{}, d_w.data(), d_g.data(), d_a.data(), d_u.data());
  return agrees(d_w.download(), w, 1e-6, 1e-5);
}
struct OptimData {
  OptimData(Backend& be, size_t n)
      : w(dev(be, random_floats(n, 17))), g(dev(be, random_floats(n, 18))), s1(dev(be, std::vector<float>(n, 0.f))),
        s2(dev(be, std::vector<float>(n, 0.f))) {}
  Buffer<float> w, g, s1, s2;
};
void BM_AdadeltaUpdate_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be, 1, "adadelta", check_optim)) return;
  const size_t n = size_t(state.range(0));
  OptimData d(*be, n);
  time_gpu(state, [&] { be->adadelta_update(n, AdadeltaParams{}, d.w.data(), d.g.data(), d.s1.data(), d.s2.data()); });
  set_rates(state, 0, 0, sizeof(float) * 7.0 * double(n));  // reads w g a u, writes w a u
}
DIGITS_GPU_BENCHMARK(BM_AdadeltaUpdate_CudaKernel, optim_args);

void BM_SgdUpdate_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be) return;
  const size_t n = size_t(state.range(0));
  OptimData d(*be, n);
  time_gpu(state, [&] { be->sgd_update(n, SgdParams{}, d.w.data(), d.g.data(), d.s1.data()); });
  set_rates(state, 0, 0, sizeof(float) * 5.0 * double(n));  // reads w g v, writes w v
}
DIGITS_GPU_BENCHMARK(BM_SgdUpdate_CudaKernel, optim_args);

void BM_AdamUpdate_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be) return;
  const size_t n = size_t(state.range(0));
  OptimData d(*be, n);
  time_gpu(state, [&] { be->adam_update(n, AdamParams{}, d.w.data(), d.g.data(), d.s1.data(), d.s2.data()); });
  set_rates(state, 0, 0, sizeof(float) * 7.0 * double(n));  // reads w g m v, writes w m v
}
DIGITS_GPU_BENCHMARK(BM_AdamUpdate_CudaKernel, optim_args);

}  // namespace
