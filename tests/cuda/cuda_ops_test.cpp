// The CudaBackend beyond the op harness's CUDA-vs-CPU table (cuda_op_harness_test.cpp): memory and
// errors, the variants Backend does not reach (direct conv kernels, cuDNN pooling, TF32 on), max-pool
// ties, in-place and misaligned calls, and dropout masks exactly philox_uniform's. TF32 off unless a test
// says otherwise. Skips without a GPU (CudaTest).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cpu/cpu_ops.h"
#include "cuda_fixture.h"
#include "cuda_variants.h"
#include "error.h"
#include "philox.h"
#include "testing/compare.h"

namespace digits {
namespace {

using testing::close;
using testing::CudaTest;
using testing::CudaTestWithParam;
using testing::poisoned;
using testing::random_vector;

// Test names from parts (ostringstream: GCC 12 warns falsely on chains of std::string operator+).
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// TF32 tensor cores keep 10 mantissa bits: ~1e-3 relative per product.
constexpr testing::Tol kTf32{1e-2, 1e-2, 1e-2};

std::vector<int32_t> random_labels(size_t n, int K, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& l : v) l = int32_t(rng() % uint64_t(K));
  return v;
}

// ---- backend basics -------------------------------------------------------------------------------------

class CudaBackendBasics : public CudaTest {};

TEST_F(CudaBackendBasics, NameSaysCudaDeviceAndArchitecture) {
  EXPECT_EQ(be().kind(), DeviceKind::Cuda);
  const std::string name = be().name();
  EXPECT_EQ(name.rfind("CUDA: ", 0), 0u) << name;
  EXPECT_NE(name.find("(sm_"), std::string::npos) << name;
}

TEST_F(CudaBackendBasics, UploadDownloadCopyAndFillRoundTrip) {
  const auto h = random_vector(1001, 1);
  auto a = dev(h);
  Buffer<float> b(be(), h.size());
  be().copy(b.data(), a.data(), h.size() * sizeof(float));
  EXPECT_EQ(b.download(), h);
  be().fill(b.data(), h.size(), 3.5f);
  EXPECT_EQ(b.download(), std::vector<float>(h.size(), 3.5f));
  be().fill(b.data(), h.size(), 0.0f);
  EXPECT_EQ(b.download(), std::vector<float>(h.size(), 0.0f));
  be().fill(b.data(), h.size(), -0.0f);
  for (float v : b.download()) EXPECT_TRUE(v == 0.0f && std::signbit(v));
}

TEST_F(CudaBackendBasics, HugeAllocationThrowsOutOfMemoryNamingTheSize) {
  const size_t bytes = size_t(1) << 50;  // 1 PiB
  try {
    void* p = be().allocate(bytes);
    be().deallocate(p);
    FAIL() << "allocating 1 PiB should fail";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("out of GPU memory allocating " + std::to_string(bytes) + " bytes"), std::string::npos) << msg;
  }
  // The failure leaves no error behind: the next op works.
  auto a = dev(std::vector<float>{1, -2, 3});
  be().relu_forward(3, a.data(), a.data());
  EXPECT_EQ(a.download(), (std::vector<float>{1, 0, 3}));
}

// ---- convolution ----------------------------------------------------------------------------------------

std::string conv_name(const ::testing::TestParamInfo<ConvShape>& info) {
  const ConvShape& s = info.param;
  return cat("N", s.N, "C", s.C, "H", s.H, "W", s.W, "K", s.K, "R", s.R, "S", s.S, "pad", s.pad);
}

using CudaConv = CudaTestWithParam<ConvShape>;

TEST_P(CudaConv, DirectKernelsMatchCpu) {
  const ConvShape s = GetParam();
  const auto x = random_vector(s.in_size(), 7), w = random_vector(s.weight_size(), 8),
             dy = random_vector(s.out_size(), 9);
  auto y_want = poisoned(s.out_size()), dx_want = poisoned(s.in_size()), dw_want = poisoned(s.weight_size());
  cpu::conv2d_forward(s, x.data(), w.data(), y_want.data());
  cpu::conv2d_backward_data(s, dy.data(), w.data(), dx_want.data());
  cpu::conv2d_backward_filter(s, x.data(), dy.data(), dw_want.data());
  auto d_x = dev(x), d_w = dev(w), d_dy = dev(dy);
  auto d_y = dev_poisoned(s.out_size()), d_dx = dev_poisoned(s.in_size()), d_dw = dev_poisoned(s.weight_size());
  cuda::conv2d_forward_direct(s, d_x.data(), d_w.data(), d_y.data());
  cuda::conv2d_backward_data_direct(s, d_dy.data(), d_w.data(), d_dx.data());
  cuda::conv2d_backward_filter_direct(s, d_x.data(), d_dy.data(), d_dw.data());
  EXPECT_CLOSE(d_y.download(), y_want, testing::kConvGemm);
  EXPECT_CLOSE(d_dx.download(), dx_want, testing::kConvGemm);
  EXPECT_CLOSE(d_dw.download(), dw_want, testing::kConvGemm);
}

TEST_P(CudaConv, Tf32StaysCloseAndSwitchesBack) {
  const ConvShape s = GetParam();
  const auto x = random_vector(s.in_size(), 10), w = random_vector(s.weight_size(), 11);
  auto want = poisoned(s.out_size());
  cpu::conv2d_forward(s, x.data(), w.data(), want.data());
  auto d_x = dev(x), d_w = dev(w), d_y = dev_poisoned(s.out_size());
  cuda::set_tf32(true);
  be().conv2d_forward(s, d_x.data(), d_w.data(), d_y.data());
  cuda::set_tf32(false);
  EXPECT_CLOSE(d_y.download(), want, kTf32);
  d_y.upload(poisoned(s.out_size()));
  be().conv2d_forward(s, d_x.data(), d_w.data(), d_y.data());
  EXPECT_CLOSE(d_y.download(), want, testing::kConvGemm);
  EXPECT_FALSE(cuda::conv_algo_names(s).forward.empty());
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Cuda, CudaConv, ::testing::Values(
    //        N   C   H   W   K  R  S  pad
    ConvShape{ 1,  1,  5,  5,  1, 3, 3, 0},   // everything 1
    ConvShape{ 1,  3,  7,  9,  5, 3, 3, 1},   // N=1, odd H/W, same padding
    ConvShape{ 2, 17,  6,  5, 33, 3, 3, 1},
    ConvShape{ 3,  5, 11, 13, 17, 5, 5, 2},
    ConvShape{17,  3,  9,  7,  5, 3, 2, 0},   // R != S
    ConvShape{ 5,  4,  8,  8,  7, 3, 3, 2},   // pad larger than "same"
    ConvShape{ 2, 33,  4,  4,  1, 1, 1, 0},   // 1x1, K=1
    ConvShape{ 3,  1, 28, 28, 32, 5, 5, 0},   // seed conv1
    ConvShape{ 2, 32, 12, 12, 64, 3, 3, 0},   // seed conv2
    ConvShape{ 2,  1, 28, 28, 32, 3, 3, 0},   // keras conv1
    ConvShape{ 2, 32, 26, 26, 64, 3, 3, 0}),  // keras conv2
    conv_name);
// clang-format on

// ---- max pooling ----------------------------------------------------------------------------------------

using CudaPool = CudaTestWithParam<PoolShape>;

TEST_P(CudaPool, TiesPickTheFirstInRowMajorOrder) {
  const PoolShape s = GetParam();
  std::vector<float> x(s.in_size(), 0.0f);  // all tied, as after a ReLU that zeroed a region
  auto d_x = dev(x), d_y = dev_poisoned(s.out_size());
  auto d_arg = dev_ints(s.out_size());
  be().maxpool_forward(s, d_x.data(), d_y.data(), d_arg.data());
  const auto arg = d_arg.download();
  for (size_t i = 0; i < arg.size(); ++i) {
    const int q = int(i % size_t(s.Q())), p = int(i / size_t(s.Q()) % size_t(s.P()));
    ASSERT_EQ(arg[i], p * s.size * s.W + q * s.size) << "output " << i;
  }
}

TEST_P(CudaPool, CudnnPoolingAgreesWithOurs) {
  const PoolShape s = GetParam();
  const auto x = random_vector(s.in_size(), 4), dy = random_vector(s.out_size(), 5);
  auto d_x = dev(x), d_y = dev_poisoned(s.out_size()), d_y2 = dev_poisoned(s.out_size());
  auto d_arg = dev_ints(s.out_size());
  auto d_dy = dev(dy), d_dx = dev_poisoned(s.in_size()), d_dx2 = dev_poisoned(s.in_size());
  be().maxpool_forward(s, d_x.data(), d_y.data(), d_arg.data());
  be().maxpool_backward(s, d_dy.data(), d_arg.data(), d_dx.data());
  cuda::maxpool_forward_cudnn(s, d_x.data(), d_y2.data());
  cuda::maxpool_backward_cudnn(s, d_x.data(), d_y2.data(), d_dy.data(), d_dx2.data());
  EXPECT_CLOSE(d_y2.download(), d_y.download(), testing::kElementwise);
  EXPECT_CLOSE(d_dx2.download(), d_dx.download(), testing::kElementwise);
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Cuda, CudaPool, ::testing::Values(
    //       N   C   H   W  size
    PoolShape{1,  1,  2,  2, 2},
    PoolShape{2,  3,  7,  9, 2},   // odd: the last row and column are dropped
    PoolShape{3, 17, 24, 24, 2},
    PoolShape{1, 33,  5,  5, 3},
    PoolShape{2,  1,  9,  8, 4},
    PoolShape{4, 64, 24, 24, 2}),  // keras pool
    [](const ::testing::TestParamInfo<PoolShape>& i) {
      const PoolShape& p = i.param;
      return cat("N", p.N, "C", p.C, "H", p.H, "W", p.W, "size", p.size);
    });
// clang-format on

// ---- dense ----------------------------------------------------------------------------------------------

using CudaDense = CudaTestWithParam<DenseShape>;

TEST_P(CudaDense, Tf32StaysClose) {
  const DenseShape s = GetParam();
  const auto x = random_vector(size_t(s.N) * s.in, 7), w = random_vector(size_t(s.out) * s.in, 8);
  auto want = poisoned(size_t(s.N) * s.out);
  cpu::dense_forward(s, x.data(), w.data(), want.data());
  auto d_x = dev(x), d_w = dev(w), d_y = dev_poisoned(want.size());
  cuda::set_tf32(true);
  be().dense_forward(s, d_x.data(), d_w.data(), d_y.data());
  cuda::set_tf32(false);
  EXPECT_CLOSE(d_y.download(), want, kTf32);
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Cuda, CudaDense, ::testing::Values(
    //         N    in  out
    DenseShape{  1,    1,   1},
    DenseShape{  1, 9216, 128},   // keras dense1, one image
    DenseShape{  3,   17,  33},
    DenseShape{128, 1600, 128},   // seed dense1
    DenseShape{  7,  128,  10},
    DenseShape{  5,   33,   1}),
    [](const ::testing::TestParamInfo<DenseShape>& i) {
      return cat("N", i.param.N, "in", i.param.in, "out", i.param.out);
    });
// clang-format on

// ---- activations ----------------------------------------------------------------------------------------

class CudaRelu : public CudaTestWithParam<size_t> {};

TEST_P(CudaRelu, InPlaceAndMisalignedMatchCpu) {
  const size_t n = GetParam();
  const auto x = random_vector(n + 1, 3), dy = random_vector(n + 1, 4);
  auto y_want = x, dx_want = dy;
  cpu::relu_forward(n, y_want.data() + 1, y_want.data() + 1);
  cpu::relu_backward(n, y_want.data() + 1, dx_want.data() + 1, dx_want.data() + 1);
  auto d_y = dev(x), d_dx = dev(dy);
  // One float past a 256-byte aligned allocation: the scalar path; in place: x == y, dy == dx.
  be().relu_forward(n, d_y.data() + 1, d_y.data() + 1);
  be().relu_backward(n, d_y.data() + 1, d_dx.data() + 1, d_dx.data() + 1);
  EXPECT_CLOSE(d_y.download(), y_want, testing::kElementwise);
  EXPECT_CLOSE(d_dx.download(), dx_want, testing::kElementwise);
}

INSTANTIATE_TEST_SUITE_P(Cuda, CudaRelu, ::testing::Values(size_t(1), size_t(3), size_t(4), size_t(1001), size_t(65536 + 3)));

// ---- dropout --------------------------------------------------------------------------------------------

struct DropoutCase {
  size_t n;
  float rate;
  uint64_t seed;
};

using CudaDropout = CudaTestWithParam<DropoutCase>;

TEST_P(CudaDropout, MaskIsExactlyPhiloxAndMatchesCpu) {
  const DropoutCase c = GetParam();
  auto x = random_vector(c.n, 1, 0.5f, 1.5f);  // never 0, so a kept element is never mistaken for a dropped one
  auto want = poisoned(c.n);
  cpu::dropout_forward(c.n, c.rate, c.seed, x.data(), want.data());
  auto d_x = dev(x), d_y = dev_poisoned(c.n);
  be().dropout_forward(c.n, c.rate, c.seed, d_x.data(), d_y.data());
  const auto y = d_y.download();
  EXPECT_CLOSE(y, want, testing::kElementwise);
  size_t kept = 0;
  for (size_t i = 0; i < c.n; ++i) {
    const bool keep = philox_uniform(c.seed, i) >= c.rate;
    ASSERT_EQ(y[i] != 0.0f, keep) << "element " << i;
    kept += keep;
  }
  if (c.n >= 10000) {
    EXPECT_NEAR(double(kept) / double(c.n), 1.0 - c.rate, 0.02);
  }
}

TEST_P(CudaDropout, BackwardInPlaceMatchesCpu) {
  const DropoutCase c = GetParam();
  const auto dy = random_vector(c.n, 2);
  auto want = dy;
  cpu::dropout_backward(c.n, c.rate, c.seed, want.data(), want.data());
  auto d = dev(dy);
  be().dropout_backward(c.n, c.rate, c.seed, d.data(), d.data());
  EXPECT_CLOSE(d.download(), want, testing::kElementwise);
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Cuda, CudaDropout, ::testing::Values(
    DropoutCase{1, 0.5f, 1},
    DropoutCase{7, 0.25f, 42},                       // not a multiple of 4 (one Philox call per 4)
    DropoutCase{1000003, 0.25f, 0x123456789abcdef0ull},  // 64-bit seed: both key words matter
    DropoutCase{65536, 0.5f, 7},
    DropoutCase{4099, 0.0f, 3},                      // rate 0 keeps everything, scale 1
    DropoutCase{4099, 0.9f, 3}),
    [](const ::testing::TestParamInfo<DropoutCase>& i) {
      return cat("n", i.param.n, "rate", std::lround(i.param.rate * 100), "case", i.index);
    });
// clang-format on

}  // namespace
}  // namespace digits
