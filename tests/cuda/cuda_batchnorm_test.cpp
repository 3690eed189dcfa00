// CUDA batch normalization (cuda/kernels/batchnorm.cu) against digits::cpu and digits::reference on the same
// random data: training forward (y, batch statistics, running statistics over two steps), inference (also in
// place), backward (dx, dgamma, dbeta); over awkward shapes that reach both kernel layouts (planes, float4 or
// not; rows for HW = 1) and many slices. Runs must be bit-identical. Skips without a GPU (CudaTest).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cpu/cpu_ops.h"
#include "cuda_fixture.h"
#include "cuda_ops.h"
#include "error.h"
#include "reference/reference_ops.h"
#include "testing/compare.h"

namespace digits {
namespace {

using testing::close;
using testing::CudaTest;
using testing::CudaTestWithParam;
using testing::poisoned;

// clang-format off
// Against the reference (plain loops in double): the kernels sum in double and apply the affine maps in
// double too, so every output is within one float rounding of the reference's (sums agree to ~1e-13).
constexpr testing::Tol kVsReference = testing::kElementwise;
// Against the CPU: it sums rows in 16 float lanes and applies y = (x - float mean) a + b in float, which
// costs up to ~ulp(|mean|) * |gamma| * inv_std, a few 1e-6 at the test data's |mean| / std of up to ~14.
constexpr testing::Tol kVsCpu       = testing::kReduction;
// clang-format on

constexpr float kEps = 1e-5f;
constexpr float kMomentum = 0.1f;

struct BnShape {
  int N, C, HW;
  size_t size() const { return size_t(N) * C * HW; }
};

std::string shape_name(const ::testing::TestParamInfo<BnShape>& info) {
  std::ostringstream os;
  os << "N" << info.param.N << "C" << info.param.C << "HW" << info.param.HW;
  return os.str();
}

// Inputs with a per-channel mean in [-4, 4] and half-width in [0.5, 3] (x), gradients with a per-channel
// offset (so that dbeta is not ~0), gamma of either sign, running statistics away from their defaults.
struct BnData {
  std::vector<float> x, dy, gamma, beta, running_mean, running_var;
};

BnData make_data(const BnShape& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&rng](float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); };
  BnData d;
  const size_t C = size_t(s.C);
  std::vector<float> mu(C), half(C), dmu(C);
  for (size_t c = 0; c < C; ++c) {
    mu[c] = uniform(-4.f, 4.f);
    half[c] = uniform(0.5f, 3.f);
    dmu[c] = uniform(-0.5f, 0.5f);
    d.gamma.push_back(uniform(0.25f, 1.5f) * (rng() % 2 ? 1.f : -1.f));
    d.beta.push_back(uniform(-1.f, 1.f));
    d.running_mean.push_back(uniform(-1.f, 1.f));
    d.running_var.push_back(uniform(0.5f, 2.f));
  }
  d.x.resize(s.size());
  d.dy.resize(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t c = (i / size_t(s.HW)) % C;
    d.x[i] = mu[c] + half[c] * uniform(-1.f, 1.f);
    d.dy[i] = dmu[c] + uniform(-1.f, 1.f);
  }
  return d;
}

// Host results of one implementation (cpu:: or reference::).
struct Forward {
  std::vector<float> y, mean, inv_std, running_mean, running_var;
};
struct Backward {
  std::vector<float> dx, dgamma, dbeta;
};

template <class TrainFn>
Forward host_forward(TrainFn train, const BnShape& s, const BnData& d, const std::vector<float>& x) {
  Forward f{poisoned(s.size()), poisoned(size_t(s.C)), poisoned(size_t(s.C)), d.running_mean, d.running_var};
  train(s.N, s.C, s.HW, kEps, kMomentum, x.data(), d.gamma.data(), d.beta.data(), f.y.data(), f.mean.data(),
        f.inv_std.data(), f.running_mean.data(), f.running_var.data());
  return f;
}

template <class BackwardFn>
Backward host_backward(BackwardFn backward, const BnShape& s, const BnData& d, const Forward& f) {
  Backward b{poisoned(s.size()), poisoned(size_t(s.C)), poisoned(size_t(s.C))};
  backward(s.N, s.C, s.HW, d.x.data(), d.dy.data(), d.gamma.data(), f.mean.data(), f.inv_std.data(), b.dx.data(),
           b.dgamma.data(), b.dbeta.data());
  return b;
}

bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// ---- matches cpu:: and reference:: over a shape table ---------------------------------------------------

using CudaBatchnorm = CudaTestWithParam<BnShape>;

TEST_P(CudaBatchnorm, TrainingForwardMatchesCpuAndReferenceOverTwoSteps) {
  const BnShape s = GetParam();
  const BnData d = make_data(s, 1);
  const std::vector<float> x2 = make_data(s, 2).x;  // the second step's batch
  auto d_g = dev(d.gamma), d_b = dev(d.beta), d_rm = dev(d.running_mean), d_rv = dev(d.running_var);
  auto cpu_state = d, ref_state = d;
  for (const auto* x : {&d.x, &x2}) {
    const Forward want_cpu = host_forward(cpu::batchnorm_forward_train, s, cpu_state, *x);
    const Forward want_ref = host_forward(reference::batchnorm_forward_train, s, ref_state, *x);
    cpu_state.running_mean = want_cpu.running_mean;
    cpu_state.running_var = want_cpu.running_var;
    ref_state.running_mean = want_ref.running_mean;
    ref_state.running_var = want_ref.running_var;

    auto d_x = dev(*x), d_y = dev_poisoned(s.size());
    auto d_mean = dev_poisoned(size_t(s.C)), d_istd = dev_poisoned(size_t(s.C));
    be().batchnorm_forward_train(s.N, s.C, s.HW, kEps, kMomentum, d_x.data(), d_g.data(), d_b.data(), d_y.data(),
                                 d_mean.data(), d_istd.data(), d_rm.data(), d_rv.data());
    const auto y = d_y.download(), mean = d_mean.download(), istd = d_istd.download();
    const auto rm = d_rm.download(), rv = d_rv.download();
    EXPECT_CLOSE(y, want_ref.y, kVsReference);
    EXPECT_CLOSE(mean, want_ref.mean, kVsReference);
    EXPECT_CLOSE(istd, want_ref.inv_std, kVsReference);
    EXPECT_CLOSE(rm, want_ref.running_mean, kVsReference);
    EXPECT_CLOSE(rv, want_ref.running_var, kVsReference);
    EXPECT_CLOSE(y, want_cpu.y, kVsCpu);
    EXPECT_CLOSE(mean, want_cpu.mean, kVsCpu);
    EXPECT_CLOSE(istd, want_cpu.inv_std, kVsCpu);
    EXPECT_CLOSE(rm, want_cpu.running_mean, kVsCpu);
    EXPECT_CLOSE(rv, want_cpu.running_var, kVsCpu);
  }
}

TEST_P(CudaBatchnorm, InferenceMatchesCpuAndReferenceAlsoInPlace) {
  const BnShape s = GetParam();
  const BnData d = make_data(s, 3);
  auto want_cpu = poisoned(s.size()), want_ref = poisoned(s.size());
  cpu::batchnorm_forward_infer(s.N, s.C, s.HW, kEps, d.x.data(), d.gamma.data(), d.beta.data(),
                               d.running_mean.data(), d.running_var.data(), want_cpu.data());
  reference::batchnorm_forward_infer(s.N, s.C, s.HW, kEps, d.x.data(), d.gamma.data(), d.beta.data(),
                                     d.running_mean.data(), d.running_var.data(), want_ref.data());
  auto d_x = dev(d.x), d_g = dev(d.gamma), d_b = dev(d.beta), d_rm = dev(d.running_mean), d_rv = dev(d.running_var);
  auto d_y = dev_poisoned(s.size());
  be().batchnorm_forward_infer(s.N, s.C, s.HW, kEps, d_x.data(), d_g.data(), d_b.data(), d_rm.data(), d_rv.data(),
                               d_y.data());
  const auto y = d_y.download();
  EXPECT_CLOSE(y, want_ref, kVsReference);
  EXPECT_CLOSE(y, want_cpu, kVsCpu);
  // x and y may alias: the same bits in place.
  be().batchnorm_forward_infer(s.N, s.C, s.HW, kEps, d_x.data(), d_g.data(), d_b.data(), d_rm.data(), d_rv.data(),
                               d_x.data());
  EXPECT_TRUE(bits_equal(d_x.download(), y));
}

TEST_P(CudaBatchnorm, BackwardMatchesCpuAndReference) {
  const BnShape s = GetParam();
  const BnData d = make_data(s, 4);
  // Both sides get the same saved statistics (the CPU's forward), as float inputs.
  const Forward f = host_forward(cpu::batchnorm_forward_train, s, d, d.x);
  const Backward want_cpu = host_backward(cpu::batchnorm_backward, s, d, f);
  const Backward want_ref = host_backward(reference::batchnorm_backward, s, d, f);
  auto d_x = dev(d.x), d_dy = dev(d.dy), d_g = dev(d.gamma), d_mean = dev(f.mean), d_istd = dev(f.inv_std);
  auto d_dx = dev_poisoned(s.size()), d_dg = dev_poisoned(size_t(s.C)), d_db = dev_poisoned(size_t(s.C));
  be().batchnorm_backward(s.N, s.C, s.HW, d_x.data(), d_dy.data(), d_g.data(), d_mean.data(), d_istd.data(),
                          d_dx.data(), d_dg.data(), d_db.data());
  const auto dx = d_dx.download(), dg = d_dg.download(), db = d_db.download();
  EXPECT_CLOSE(dx, want_ref.dx, kVsReference);
  EXPECT_CLOSE(dg, want_ref.dgamma, kVsReference);
  EXPECT_CLOSE(db, want_ref.dbeta, kVsReference);
  EXPECT_CLOSE(dx, want_cpu.dx, kVsCpu);
  EXPECT_CLOSE(dg, want_cpu.dgamma, kVsCpu);
  EXPECT_CLOSE(db, want_cpu.dbeta, kVsCpu);
}

// Two runs of forward and backward give the same bits (no atomics; the slicing depends on the shape only).
TEST_P(CudaBatchnorm, RunsAreBitIdentical) {
  const BnShape s = GetParam();
  const BnData d = make_data(s, 5);
  auto d_x = dev(d.x), d_dy = dev(d.dy), d_g = dev(d.gamma), d_b = dev(d.beta);
  std::vector<std::vector<float>> first;
  for (int run = 0; run < 2; ++run) {
    auto d_rm = dev(d.running_mean), d_rv = dev(d.running_var), d_y = dev_poisoned(s.size());
    auto d_mean = dev_poisoned(size_t(s.C)), d_istd = dev_poisoned(size_t(s.C));
    auto d_dx = dev_poisoned(s.size()), d_dg = dev_poisoned(size_t(s.C)), d_db = dev_poisoned(size_t(s.C));
    cuda::batchnorm_forward_train(s.N, s.C, s.HW, kEps, kMomentum, d_x.data(), d_g.data(), d_b.data(), d_y.data(),
                                  d_mean.data(), d_istd.data(), d_rm.data(), d_rv.data());
    cuda::batchnorm_backward(s.N, s.C, s.HW, d_x.data(), d_dy.data(), d_g.data(), d_mean.data(), d_istd.data(),
                             d_dx.data(), d_dg.data(), d_db.data());
    std::vector<std::vector<float>> out = {d_y.download(),  d_mean.download(), d_istd.download(),
                                           d_rm.download(), d_rv.download(),   d_dx.download(),
                                           d_dg.download(), d_db.download()};
    if (run == 0) {
      first = std::move(out);
      continue;
    }
    for (size_t k = 0; k < out.size(); ++k) EXPECT_TRUE(bits_equal(out[k], first[k])) << "output " << k;
  }
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Cuda, CudaBatchnorm, ::testing::Values(
    //     N    C   HW
    BnShape{  1,  3,   1},   // M = 1: zero variance, running_var takes the biased 0
    BnShape{  3,  1,   1},   // (M = 2 would make dx pure rounding noise: xhat = +-1 cancels it exactly)
    BnShape{257,  3,   1},   // HW = 1, few channels: planes layout, strided
    BnShape{  9,  7,   1},   // just below the rows layout's channel minimum
    BnShape{  3,  8,   1},   // rows layout at its channel minimum
    BnShape{257, 33,   1},   // rows layout, channels not a multiple of 32, 5 slices
    BnShape{65536, 33, 1},   // rows layout, capped at 256 slices of 256 rows
    BnShape{  1,  1,   7},
    BnShape{  3, 33,   7},   // HW not a multiple of 4: scalar planes
    BnShape{ 17,  3, 169},   // 13x13, scalar planes
    BnShape{ 64,  3, 169},   // 2 slices
    BnShape{  5,  1, 784},   // float4 planes
    BnShape{  7, 33, 196},
    BnShape{128, 33, 784},   // a conv layer at batch 128: 13 slices
    BnShape{257,  3, 784}),  // 25 slices, N not a multiple of the slice count
    shape_name);
// clang-format on

// ---- edge cases ---------------------------------------------------------------------------------------

class CudaBatchnormEdge : public CudaTest {};

// A constant channel has zero variance: y = beta exactly, inv_std = 1 / sqrt(eps).
TEST_F(CudaBatchnormEdge, ConstantChannelGivesBeta) {
  const BnShape s{33, 2, 49};
  BnData d = make_data(s, 6);
  for (size_t i = 0; i < s.size(); ++i)
    if ((i / size_t(s.HW)) % 2 == 0) d.x[i] = 0.1f;
  const Forward want = host_forward(reference::batchnorm_forward_train, s, d, d.x);
  auto d_x = dev(d.x), d_g = dev(d.gamma), d_b = dev(d.beta), d_rm = dev(d.running_mean), d_rv = dev(d.running_var);
  auto d_y = dev_poisoned(s.size()), d_mean = dev_poisoned(2), d_istd = dev_poisoned(2);
  be().batchnorm_forward_train(s.N, s.C, s.HW, kEps, kMomentum, d_x.data(), d_g.data(), d_b.data(), d_y.data(),
                               d_mean.data(), d_istd.data(), d_rm.data(), d_rv.data());
  const auto y = d_y.download();
  for (int n = 0; n < s.N; ++n)
    for (int i = 0; i < s.HW; ++i) EXPECT_EQ(y[size_t(n) * 2 * s.HW + size_t(i)], d.beta[0]);
  EXPECT_EQ(d_mean.download()[0], 0.1f);
  EXPECT_CLOSE(d_istd.download(), want.inv_std, kVsReference);
  EXPECT_CLOSE(y, want.y, kVsReference);
  EXPECT_CLOSE(d_rv.download(), want.running_var, kVsReference);
}

// The kernels tolerate y == x and dx == dy (each value is read, then written, by one thread after the
// statistics), though host/ops.h promises aliasing only for inference: same bits as out of place.
TEST_F(CudaBatchnormEdge, InPlaceTrainingGivesTheSameBits) {
  for (const BnShape s : {BnShape{16, 5, 196}, BnShape{100, 40, 1}}) {
    const BnData d = make_data(s, 7);
    auto d_g = dev(d.gamma), d_b = dev(d.beta), d_mean = dev_poisoned(size_t(s.C)), d_istd = dev_poisoned(size_t(s.C));
    auto d_rm = dev(d.running_mean), d_rv = dev(d.running_var);
    auto d_x = dev(d.x), d_dy = dev(d.dy), d_y = dev_poisoned(s.size()), d_dx = dev_poisoned(s.size());
    auto d_dg = dev_poisoned(size_t(s.C)), d_db = dev_poisoned(size_t(s.C));
    cuda::batchnorm_forward_train(s.N, s.C, s.HW, kEps, kMomentum, d_x.data(), d_g.data(), d_b.data(), d_y.data(),
                                  d_mean.data(), d_istd.data(), d_rm.data(), d_rv.data());
    cuda::batchnorm_backward(s.N, s.C, s.HW, d_x.data(), d_dy.data(), d_g.data(), d_mean.data(), d_istd.data(),
                             d_dx.data(), d_dg.data(), d_db.data());
    auto d_inplace = dev(d.x);
    cuda::batchnorm_forward_train(s.N, s.C, s.HW, kEps, kMomentum, d_inplace.data(), d_g.data(), d_b.data(),
                                  d_inplace.data(), d_mean.data(), d_istd.data(), d_rm.data(), d_rv.data());
    EXPECT_TRUE(bits_equal(d_inplace.download(), d_y.download())) << "forward, C=" << s.C;
    cuda::batchnorm_backward(s.N, s.C, s.HW, d_x.data(), d_dy.data(), d_g.data(), d_mean.data(), d_istd.data(),
                             d_dy.data(), d_dg.data(), d_db.data());
    EXPECT_TRUE(bits_equal(d_dy.download(), d_dx.download())) << "backward, C=" << s.C;
  }
}

TEST_F(CudaBatchnormEdge, BadShapeEpsOrMomentumThrows) {
  auto buf = dev_poisoned(64);
  float* p = buf.data();
  EXPECT_THROW(cuda::batchnorm_forward_train(0, 2, 4, kEps, kMomentum, p, p, p, p, p, p, p, p), Error);
  EXPECT_THROW(cuda::batchnorm_forward_train(2, 2, 4, 0.f, kMomentum, p, p, p, p, p, p, p, p), Error);
  EXPECT_THROW(cuda::batchnorm_forward_train(2, 2, 4, kEps, 1.5f, p, p, p, p, p, p, p, p), Error);
  EXPECT_THROW(cuda::batchnorm_forward_infer(2, 0, 4, kEps, p, p, p, p, p, p), Error);
  EXPECT_THROW(cuda::batchnorm_forward_infer(2, 2, 4, -1.f, p, p, p, p, p, p), Error);
  EXPECT_THROW(cuda::batchnorm_backward(2, 2, 0, p, p, p, p, p, p, p, p), Error);
  // Nothing was launched: the next op works.
  auto d_x = dev(std::vector<float>{1, 3}), d_one = dev(std::vector<float>{1}), d_zero = dev(std::vector<float>{0});
  auto d_y = dev_poisoned(2);
  cuda::batchnorm_forward_infer(2, 1, 1, kEps, d_x.data(), d_one.data(), d_zero.data(), d_zero.data(), d_one.data(),
                                d_y.data());
  EXPECT_CLOSE(d_y.download(), (std::vector<float>{1.f / std::sqrt(1.f + kEps), 3.f / std::sqrt(1.f + kEps)}),
               kVsReference);
}

}  // namespace
}  // namespace digits
