// Google Benchmark cases for our CUDA batch-normalization kernels (cuda/kernels/batchnorm.cu) at the shapes
// of a network with conv(32, 3x3, same) + bn on 28x28, conv(64) + bn on 14x14 and dense(256) + bn at batch
// 128, plus dense(256) at batch 65536 (the rows layout at its slice cap). GPU time only (CUDA events,
// UseManualTime), after one warm-up call; each shape is checked once against digits::cpu at batch 4 first.
// Bytes are what the kernels move: training forward reads x twice and writes y (3 n floats), backward reads
// x and dy twice and writes dx (5 n), inference reads x and writes y (2 n). Without a GPU every case
// reports "no CUDA device".
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <exception>
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

// ---- data (device and timing: cuda_bench_common.h) ------------------------------------------------------

// Per-channel offsets and scales, as in a network's activations.
std::vector<float> activations(size_t n, int C, int HW, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> mu(static_cast<size_t>(C)), scale(static_cast<size_t>(C)), v(n);
  for (int c = 0; c < C; ++c) mu[size_t(c)] = 2.f * u(rng), scale[size_t(c)] = 1.5f + u(rng);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = (i / size_t(HW)) % size_t(C);
    v[i] = mu[c] + scale[c] * u(rng);
  }
  return v;
}

// ---- shapes and the one-time check ----------------------------------------------------------------------

constexpr float kEps = 1e-5f, kMomentum = 0.1f;

// (N, C, HW)
// clang-format off
struct NamedBn {
  const char* name;
  int N, C, HW;
};
const NamedBn kBns[] = {
    {"conv32 28x28 bn", kBatch,  32, 784},
    {"conv64 14x14 bn", kBatch,  64, 196},
    {"dense256 bn",     kBatch, 256,   1},
    {"dense256 bn N64k", 65536, 256,   1},
};
// clang-format on

void bn_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "C", "HW"});
  for (const auto& s : kBns) b->Args({s.N, s.C, s.HW});
}
std::string bn_label(const benchmark::State& st) {
  for (const auto& s : kBns)
    if (s.N == st.range(0) && s.C == st.range(1) && s.HW == st.range(2)) return s.name;
  return "";
}

// Training forward, backward and inference at batch 4 against digits::cpu.
bool check_bn(Backend& be, int C, int HW) {
  const int N = 4;
  const size_t n = size_t(N) * C * HW, nc = size_t(C);
  const auto x = activations(n, C, HW, 1), dy = activations(n, C, HW, 2), gamma = activations(nc, C, 1, 3),
             beta = activations(nc, C, 1, 4);
  std::vector<float> y(n), mean(nc), istd(nc), rm(nc, 0.f), rv(nc, 1.f), dx(n), dg(nc), db(nc), yi(n);
  cpu::batchnorm_forward_train(N, C, HW, kEps, kMomentum, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                               istd.data(), rm.data(), rv.data());
  cpu::batchnorm_backward(N, C, HW, x.data(), dy.data(), gamma.data(), mean.data(), istd.data(), dx.data(), dg.data(),
                          db.data());
  cpu::batchnorm_forward_infer(N, C, HW, kEps, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), yi.data());
  auto d_x = dev(be, x), d_dy = dev(be, dy), d_g = dev(be, gamma), d_b = dev(be, beta);
  auto d_rm = dev(be, std::vector<float>(nc, 0.f)), d_rv = dev(be, std::vector<float>(nc, 1.f));
  Buffer<float> d_y(be, n), d_mean(be, nc), d_istd(be, nc), d_dx(be, n), d_dg(be, nc), d_db(be, nc), d_yi(be, n);
  be.batchnorm_forward_train(N, C, HW, kEps, kMomentum, d_x.data(), d_g.data(), d_b.data(), d_y.data(), d_mean.data(),
                             d_istd.data(), d_rm.data(), d_rv.data());
  // Backward from the CPU's saved statistics, so that only the backward itself is compared.
  d_mean.upload(mean), d_istd.upload(istd);
  be.batchnorm_backward(N, C, HW, d_x.data(), d_dy.data(), d_g.data(), d_mean.data(), d_istd.data(), d_dx.data(),
                        d_dg.data(), d_db.data());
  be.batchnorm_forward_infer(N, C, HW, kEps, d_x.data(), d_g.data(), d_b.data(), d_rm.data(), d_rv.data(),
                             d_yi.data());
  return agrees(d_y.download(), y) && agrees(d_rm.download(), rm) && agrees(d_rv.download(), rv) &&
         agrees(d_dx.download(), dx) && agrees(d_dg.download(), dg) && agrees(d_db.download(), db) &&
         agrees(d_yi.download(), yi);
}

// Runs check_bn once per (C, HW) in the process; a mismatch (or a throw) makes the case skip with an error.
bool validated_once(benchmark::State& state, Backend& be) {
  static std::mutex mu;
  static std::set<std::pair<int, int>> done;
  const int C = int(state.range(1)), HW = int(state.range(2));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (done.count({C, HW})) return true;
  }
  std::string error;
  try {
    if (!check_bn(be, C, HW)) error = "cuda batchnorm differs from cpu";
  } catch (const std::exception& e) {
    error = std::string("batchnorm check threw: ") + e.what();
  }
  if (!error.empty()) {
    error += " for C=" + std::to_string(C) + " HW=" + std::to_string(HW);
    state.SkipWithError(error.c_str());
    return false;
  }
  std::lock_guard<std::mutex> lock(mu);
  done.insert({C, HW});
  return true;
}

struct BnData {
  BnData(Backend& be, int N, int C, int HW)
      : n(size_t(N) * C * HW), x(dev(be, activations(n, C, HW, 1))), dy(dev(be, activations(n, C, HW, 2))),
        gamma(dev(be, activations(size_t(C), C, 1, 3))), beta(dev(be, activations(size_t(C), C, 1, 4))),
        running_mean(dev(be, std::vector<float>(size_t(C), 0.f))),
        running_var(dev(be, std::vector<float>(size_t(C), 1.f))), y(be, n), dx(be, n), mean(be, size_t(C)),
        inv_std(be, size_t(C)), dgamma(be, size_t(C)), dbeta(be, size_t(C)) {}
  size_t n;
  Buffer<float> x, dy, gamma, beta, running_mean, running_var, y, dx, mean, inv_std, dgamma, dbeta;
};

#define DIGITS_GPU_BENCHMARK(fn, args) \
  BENCHMARK(fn)->Apply(args)->UseManualTime()->Unit(benchmark::kMicrosecond)

// ---- benchmarks ---------------------------------------------------------------------------------------

void BM_BatchnormForwardTrain_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be)) return;
  const int N = int(state.range(0)), C = int(state.range(1)), HW = int(state.range(2));
  BnData d(*be, N, C, HW);
  time_gpu(state, [&] {
    be->batchnorm_forward_train(N, C, HW, kEps, kMomentum, d.x.data(), d.gamma.data(), d.beta.data(), d.y.data(),
                                d.mean.data(), d.inv_std.data(), d.running_mean.data(), d.running_var.data());
  });
  state.SetLabel(bn_label(state));
  set_rates(state, N, 0, 3.0 * sizeof(float) * double(d.n));
}
DIGITS_GPU_BENCHMARK(BM_BatchnormForwardTrain_CudaKernel, bn_args);

void BM_BatchnormBackward_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be)) return;
  const int N = int(state.range(0)), C = int(state.range(1)), HW = int(state.range(2));
  BnData d(*be, N, C, HW);
  be->batchnorm_forward_train(N, C, HW, kEps, kMomentum, d.x.data(), d.gamma.data(), d.beta.data(), d.y.data(),
                              d.mean.data(), d.inv_std.data(), d.running_mean.data(), d.running_var.data());
  time_gpu(state, [&] {
    be->batchnorm_backward(N, C, HW, d.x.data(), d.dy.data(), d.gamma.data(), d.mean.data(), d.inv_std.data(),
                           d.dx.data(), d.dgamma.data(), d.dbeta.data());
  });
  state.SetLabel(bn_label(state));
  set_rates(state, N, 0, 5.0 * sizeof(float) * double(d.n));
}
DIGITS_GPU_BENCHMARK(BM_BatchnormBackward_CudaKernel, bn_args);

void BM_BatchnormForwardInfer_CudaKernel(benchmark::State& state) {
  Backend* be = gpu(state);
  if (!be || !validated_once(state, *be)) return;
  const int N = int(state.range(0)), C = int(state.range(1)), HW = int(state.range(2));
  BnData d(*be, N, C, HW);
  time_gpu(state, [&] {
    be->batchnorm_forward_infer(N, C, HW, kEps, d.x.data(), d.gamma.data(), d.beta.data(), d.running_mean.data(),
                                d.running_var.data(), d.y.data());
  });
  state.SetLabel(bn_label(state));
  set_rates(state, N, 0, 2.0 * sizeof(float) * double(d.n));
}
DIGITS_GPU_BENCHMARK(BM_BatchnormForwardInfer_CudaKernel, bn_args);

}  // namespace
