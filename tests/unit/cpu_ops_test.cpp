// Every digits::cpu op against digits::reference on random inputs of awkward shapes (N=1, odd H/W,
// C=1, K=1, channel counts 3, 5, 17, 33, valid and same padding), outputs poisoned with NaN before
// each call; and the promise that CPU results are bit-identical for 1, 2 and 3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend.h"
#include "cpu/cpu_common.h"
#include "cpu/cpu_ops.h"
#include "cpu/cpu_winograd.h"
#include "error.h"
#include "reference/reference_ops.h"
#include "testing/compare.h"

namespace digits {
namespace {

namespace ref = digits::reference;
using testing::close;
using testing::poisoned;
using testing::random_vector;

// Restores the default thread count whatever a test set.
class CpuOpsTest : public ::testing::Test {
 protected:
  void TearDown() override { cpu::set_num_threads(0); }
};

// ---- convolution: the shape table is the op harness's (op_harness_test.cpp) ----------------------
// All three convolution ops of the CPU path on shape s against the reference.
void expect_conv_matches_reference(const ConvShape& s) {
  SCOPED_TRACE(::testing::Message() << "N=" << s.N << " C=" << s.C << " H=" << s.H << " W=" << s.W << " K=" << s.K
                                    << " R=" << s.R << " pad=" << s.pad);
  const auto x = random_vector(s.in_size(), 1), w = random_vector(s.weight_size(), 2), dy = random_vector(s.out_size(), 3);
  auto y = poisoned(s.out_size()), want_y = poisoned(s.out_size());
  cpu::conv2d_forward(s, x.data(), w.data(), y.data());
  ref::conv2d_forward(s, x.data(), w.data(), want_y.data());
  EXPECT_CLOSE(y, want_y, testing::kConvGemm);
  auto dx = poisoned(s.in_size()), want_dx = poisoned(s.in_size());
  cpu::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
  ref::conv2d_backward_data(s, dy.data(), w.data(), want_dx.data());
  EXPECT_CLOSE(dx, want_dx, testing::kConvGemm);
  auto dw = poisoned(s.weight_size()), want_dw = poisoned(s.weight_size());
  cpu::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
  ref::conv2d_backward_filter(s, x.data(), dy.data(), want_dw.data());
  EXPECT_CLOSE(dw, want_dw, testing::kConvGemm);
}

// The im2col path on the 3x3 shapes that normally go to Winograd (it serves them when pad > 2 and
// on request), all three ops against the reference.
TEST(CpuConvIm2col, MatchesReferenceOnWinogradShapes) {
  cpu::detail::set_winograd_enabled(false);
  for (const ConvShape s : {ConvShape{2, 17, 6, 5, 33, 3, 3, 1}, ConvShape{3, 16, 9, 7, 16, 3, 3, 0},
                            ConvShape{2, 32, 12, 12, 64, 3, 3, 0}, ConvShape{2, 16, 7, 7, 16, 3, 3, 3}}) {
    EXPECT_FALSE(cpu::detail::winograd_applicable(s));
    expect_conv_matches_reference(s);
  }
  cpu::detail::set_winograd_enabled(true);
  EXPECT_TRUE(cpu::detail::winograd_applicable(ConvShape{2, 32, 12, 12, 64, 3, 3, 0}));
}

// Every kernel level this machine has, as DIGITS_CPU_ISA would cap it: the Winograd products' register
// tiles (6 rows x 16 tiles: K or C not a multiple of 6, tile counts not a multiple of 16) and the direct
// kernel's blocks, against the reference. A cap never raises the level.
TEST(CpuIsa, EveryLevelMatchesTheReference) {
  using cpu::detail::Isa;
  const Isa top = cpu::detail::detected_isa();
  for (const Isa level : {Isa::Base, Isa::Avx2, Isa::Avx512}) {
    cpu::detail::set_isa_limit(level);
    EXPECT_EQ(cpu::detail::isa(), std::min(level, top));
    if (level > top) continue;
    SCOPED_TRACE(cpu::detail::to_string(level));
    for (const ConvShape s : {ConvShape{3, 20, 11, 9, 17, 3, 3, 1}, ConvShape{2, 16, 26, 26, 35, 3, 3, 0},
                              ConvShape{5, 23, 12, 12, 32, 3, 3, 0}, ConvShape{3, 1, 28, 28, 24, 5, 5, 0},
                              ConvShape{2, 3, 13, 13, 16, 3, 3, 0}})
      expect_conv_matches_reference(s);
  }
  cpu::detail::set_isa_limit(Isa::Avx512);
  EXPECT_EQ(cpu::detail::isa(), top);
}

// ---- max pooling -------------------------------------------------------------------------------
TEST(CpuMaxPool, BackwardRoutesAnArgmaxOutsideItsWindowAsTheReference) {
  // argmax values are only required to lie in the plane: the one-pass 2x2 path must fall back
  const PoolShape s{2, 3, 12, 12, 2};
  const auto dy = random_vector(s.out_size(), 11);
  std::vector<int32_t> am(s.out_size());
  for (size_t i = 0; i < am.size(); ++i) am[i] = int32_t((i * 7) % (size_t(s.H) * s.W));
  auto dx = poisoned(s.in_size()), want_dx = poisoned(s.in_size());
  cpu::maxpool_backward(s, dy.data(), am.data(), dx.data());
  ref::maxpool_backward(s, dy.data(), am.data(), want_dx.data());
  EXPECT_CLOSE(dx, want_dx, testing::kReduction);
}

TEST(CpuMaxPool, BackwardRejectsArgmaxOutsideThePlane) {
  const PoolShape s{1, 1, 2, 2, 2};
  const std::vector<float> dy{1};
  const std::vector<int32_t> am{4};
  std::vector<float> dx(4);
  EXPECT_THROW(cpu::maxpool_backward(s, dy.data(), am.data(), dx.data()), Error);
}

// ---- aliasing: the ops whose contract lets x and y (dy and dx) be the same buffer -----------------
TEST(CpuInPlace, MatchesTheReferenceOutOfPlace) {
  for (size_t n : {size_t(1), size_t(65), size_t(100003)}) {
    SCOPED_TRACE(n);
    const auto x = random_vector(n, 14);
    auto want = poisoned(n), inplace = x;
    ref::relu_forward(n, x.data(), want.data());
    cpu::relu_forward(n, inplace.data(), inplace.data());
    EXPECT_EQ(inplace, want);
    inplace = x;
    ref::dropout_forward(n, 0.3f, 7, x.data(), want.data());
    cpu::dropout_forward(n, 0.3f, 7, inplace.data(), inplace.data());
    EXPECT_EQ(inplace, want);
    inplace = x;
    ref::dropout_backward(n, 0.3f, 7, x.data(), want.data());
    cpu::dropout_backward(n, 0.3f, 7, inplace.data(), inplace.data());
    EXPECT_EQ(inplace, want);
  }
  const int N = 5, C = 3, HW = 17;
  const size_t n = size_t(N) * C * HW;
  auto x = random_vector(n, 21, 47.f, 53.f);
  const auto gamma = random_vector(size_t(C), 22, 0.5f, 2.f), beta = random_vector(size_t(C), 23),
             rm = random_vector(size_t(C), 25, 49.f, 51.f), rv = random_vector(size_t(C), 26, 0.5f, 2.f);
  auto want = poisoned(n);
  ref::batchnorm_forward_infer(N, C, HW, 1e-5f, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), want.data());
  cpu::batchnorm_forward_infer(N, C, HW, 1e-5f, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), x.data());
  EXPECT_CLOSE(x, want, testing::kElementwise);
}

// ---- softmax cross-entropy: labels are values in a tensor, checked by the implementation ------------
TEST(CpuSoftmaxXent, RejectsALabelOutsideTheClasses) {
  const std::vector<float> logits{1, 2};
  const std::vector<int32_t> bad{-1};
  std::vector<float> p(2), l(1);
  EXPECT_THROW(cpu::softmax_xent(1, 2, logits.data(), bad.data(), p.data(), l.data(), nullptr, 1.f), Error);
}

// ---- optimizer state for the determinism test ---------------------------------------------------
struct OptState {
  std::vector<float> w, g, s1, s2;
};
OptState opt_state(size_t n) {
  OptState s{random_vector(n, 20), random_vector(n, 21), random_vector(n, 22, 0.f, 0.1f), random_vector(n, 23, 0.f, 0.01f)};
  return s;
}

// ---- determinism across thread counts ----------------------------------------------------------
// Runs `op` (which writes into `out`) with 1, 2 and 3 threads and requires identical bits.
template <class T>
void expect_same_bits_for_thread_counts(const char* what, std::vector<T>& out, const std::function<void()>& op) {
  std::vector<T> first;
  for (int threads : {1, 2, 3}) {
    cpu::set_num_threads(threads);
    ASSERT_EQ(cpu::num_threads(), threads);
    std::fill(out.begin(), out.end(), T(-1));
    op();
    if (threads == 1) {
      first = out;
    } else {
      EXPECT_EQ(0, std::memcmp(first.data(), out.data(), out.size() * sizeof(T)))
          << what << ": results with " << threads << " threads differ from 1 thread";
    }
  }
}

TEST_F(CpuOpsTest, ResultsAreBitIdenticalForOneTwoThreeThreads) {
  // clang-format off
  for (const ConvShape s : {ConvShape{37, 8, 14, 14, 16, 3, 3, 1}, ConvShape{1, 32, 26, 26, 64, 3, 3, 0},
                            ConvShape{37, 16, 10, 9, 24, 3, 3, 1}, ConvShape{128, 32, 12, 12, 64, 3, 3, 0},
                            ConvShape{1, 8, 14, 14, 16, 3, 3, 1}, ConvShape{1, 1, 28, 28, 32, 5, 5, 0},
                            ConvShape{128, 1, 28, 28, 4, 5, 5, 0}, ConvShape{37, 1, 28, 28, 32, 3, 3, 0},
                            ConvShape{128, 1, 28, 28, 32, 5, 5, 0}, ConvShape{5, 6, 7, 7, 9, 1, 1, 0}}) {
    // clang-format on
    SCOPED_TRACE(::testing::Message() << "conv N=" << s.N << " C=" << s.C << " H=" << s.H << " K=" << s.K);
    const auto x = random_vector(s.in_size(), 30), w = random_vector(s.weight_size(), 31),
               dy = random_vector(s.out_size(), 32);
    std::vector<float> y(s.out_size()), dx(s.in_size()), dw(s.weight_size());
    expect_same_bits_for_thread_counts("conv2d_forward", y, [&] { cpu::conv2d_forward(s, x.data(), w.data(), y.data()); });
    expect_same_bits_for_thread_counts("conv2d_backward_data", dx,
                                       [&] { cpu::conv2d_backward_data(s, dy.data(), w.data(), dx.data()); });
    expect_same_bits_for_thread_counts("conv2d_backward_filter", dw,
                                       [&] { cpu::conv2d_backward_filter(s, x.data(), dy.data(), dw.data()); });
  }
  for (const DenseShape s : {DenseShape{128, 1600, 128}, DenseShape{1, 9216, 128}, DenseShape{1, 9216, 10},
                             DenseShape{128, 64, 10}}) {
    SCOPED_TRACE(::testing::Message() << "dense N=" << s.N << " in=" << s.in << " out=" << s.out);
    const auto x = random_vector(size_t(s.N) * s.in, 33), w = random_vector(size_t(s.out) * s.in, 34),
               dy = random_vector(size_t(s.N) * s.out, 35);
    std::vector<float> y(size_t(s.N) * s.out), dx(x.size()), dw(w.size());
    expect_same_bits_for_thread_counts("dense_forward", y, [&] { cpu::dense_forward(s, x.data(), w.data(), y.data()); });
    expect_same_bits_for_thread_counts("dense_backward_data", dx,
                                       [&] { cpu::dense_backward_data(s, dy.data(), w.data(), dx.data()); });
    expect_same_bits_for_thread_counts("dense_backward_weight", dw,
                                       [&] { cpu::dense_backward_weight(s, x.data(), dy.data(), dw.data()); });
  }
  {
    const int N = 64, C = 32, HW = 676;
    const auto dy = random_vector(size_t(N) * C * HW, 36);
    std::vector<float> db(C), y(dy.size());
    const auto b = random_vector(C, 37);
    expect_same_bits_for_thread_counts("bias_backward", db, [&] { cpu::bias_backward(N, C, HW, dy.data(), db.data()); });
    expect_same_bits_for_thread_counts("bias_forward", y, [&] {
      std::copy(dy.begin(), dy.end(), y.begin());
      cpu::bias_forward(N, C, HW, b.data(), y.data());
    });
    const PoolShape ps{N, C, 26, 26, 2};
    std::vector<float> py(ps.out_size()), pdx(ps.in_size());
    std::vector<int32_t> am(ps.out_size());
    expect_same_bits_for_thread_counts("maxpool_forward", py, [&] { cpu::maxpool_forward(ps, dy.data(), py.data(), am.data()); });
    expect_same_bits_for_thread_counts("maxpool_backward", pdx,
                                       [&] { cpu::maxpool_backward(ps, py.data(), am.data(), pdx.data()); });
    std::vector<float> r(dy.size());
    expect_same_bits_for_thread_counts("dropout_forward", r, [&] { cpu::dropout_forward(r.size(), 0.25f, 9, dy.data(), r.data()); });
    expect_same_bits_for_thread_counts("relu_forward", r, [&] { cpu::relu_forward(r.size(), dy.data(), r.data()); });
  }
  {
    const int N = 4096, K = 10;
    const auto logits = random_vector(size_t(N) * K, 38, -4, 4);
    std::vector<int32_t> labels(N);
    for (int i = 0; i < N; ++i) labels[i] = i % K;
    std::vector<float> probs(logits.size()), loss(N), dl(logits.size());
    expect_same_bits_for_thread_counts("softmax_xent", dl, [&] {
      cpu::softmax_xent(N, K, logits.data(), labels.data(), probs.data(), loss.data(), dl.data(), 1.f / N);
    });
    std::vector<double> stats(2);
    expect_same_bits_for_thread_counts("accumulate_stats", stats, [&] {
      stats = {0, 0};
      cpu::accumulate_stats(N, K, probs.data(), labels.data(), loss.data(), stats.data());
    });
  }
  {
    const size_t n = 300000;
    const auto st = opt_state(n);
    std::vector<float> w(n);
    expect_same_bits_for_thread_counts("adadelta_update", w, [&] {
      auto s = st;
      cpu::adadelta_update(n, AdadeltaParams{}, s.w.data(), s.g.data(), s.s1.data(), s.s2.data());
      w = s.w;
    });
  }
}

TEST_F(CpuOpsTest, ThreadCountZeroMeansAllCoresAndNegativeIsRejected) {
  cpu::set_num_threads(0);
  EXPECT_GE(cpu::num_threads(), 1);
  EXPECT_THROW(cpu::set_num_threads(-1), Error);
}

// ---- the backend adapter -----------------------------------------------------------------------
TEST_F(CpuOpsTest, BackendNamesItselfAllocatesAlignedAndRunsOps) {
  auto be = make_cpu_backend(2);
  EXPECT_EQ(be->kind(), DeviceKind::Cpu);
  EXPECT_NE(be->name().find("CPU"), std::string::npos);
  EXPECT_NE(be->name().find("2 threads"), std::string::npos) << be->name();
  Buffer<float> a(*be, 100), b(*be, 100);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 64, 0u);
  const auto x = random_vector(100, 40);
  a.upload(x);
  be->relu_forward(100, a.data(), b.data());
  std::vector<float> want(100);
  ref::relu_forward(100, x.data(), want.data());
  EXPECT_EQ(b.download(), want);
  be->fill(b.data(), 100, 2.5f);
  EXPECT_EQ(b.download(), std::vector<float>(100, 2.5f));
  EXPECT_THROW(be->allocate(size_t(1) << 62), Error);
  try {
    be->allocate(size_t(1) << 62);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(size_t(1) << 62)), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_cpu_backend(-1), Error);
}

}  // namespace
}  // namespace digits
