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

// ---- convolution -------------------------------------------------------------------------------
class CpuConv : public ::testing::TestWithParam<ConvShape> {};

std::string conv_name(const ::testing::TestParamInfo<ConvShape>& info) {
  const ConvShape& s = info.param;
  return "N" + std::to_string(s.N) + "C" + std::to_string(s.C) + "H" + std::to_string(s.H) + "W" + std::to_string(s.W) +
         "K" + std::to_string(s.K) + "R" + std::to_string(s.R) + "S" + std::to_string(s.S) + "pad" +
         std::to_string(s.pad);
}

TEST_P(CpuConv, ForwardMatchesReference) {
  const ConvShape s = GetParam();
  const auto x = random_vector(s.in_size(), 1), w = random_vector(s.weight_size(), 2);
  auto y = poisoned(s.out_size()), want = poisoned(s.out_size());
  cpu::conv2d_forward(s, x.data(), w.data(), y.data());
  ref::conv2d_forward(s, x.data(), w.data(), want.data());
  EXPECT_CLOSE(y, want, testing::kConvGemm);
}

TEST_P(CpuConv, BackwardDataMatchesReference) {
  const ConvShape s = GetParam();
  const auto dy = random_vector(s.out_size(), 3), w = random_vector(s.weight_size(), 4);
  auto dx = poisoned(s.in_size()), want = poisoned(s.in_size());
  cpu::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
  ref::conv2d_backward_data(s, dy.data(), w.data(), want.data());
  EXPECT_CLOSE(dx, want, testing::kConvGemm);
}

TEST_P(CpuConv, BackwardFilterMatchesReference) {
  const ConvShape s = GetParam();
  const auto x = random_vector(s.in_size(), 5), dy = random_vector(s.out_size(), 6);
  auto dw = poisoned(s.weight_size()), want = poisoned(s.weight_size());
  cpu::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
  ref::conv2d_backward_filter(s, x.data(), dy.data(), want.data());
  EXPECT_CLOSE(dw, want, testing::kConvGemm);
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Cpu, CpuConv, ::testing::Values(
    //        N   C   H   W   K  R  S  pad
    ConvShape{ 1,  1,  5,  5,  1, 3, 3, 0},   // everything 1
    ConvShape{ 1,  3,  7,  9,  5, 3, 3, 1},   // N=1 (the single-image path), same padding
    ConvShape{ 2, 17,  6,  5, 33, 3, 3, 1},
    ConvShape{ 3,  5, 11, 13, 17, 5, 5, 2},
    ConvShape{17,  3,  9,  7,  5, 3, 2, 0},   // N=17: uneven chunks in backward filter; R != S
    ConvShape{ 5,  4,  8,  8,  7, 3, 3, 2},   // pad larger than "same"
    ConvShape{ 3,  2,  4,  4,  3, 1, 1, 0},   // 1x1: no im2col
    ConvShape{ 1, 33,  5,  5,  1, 3, 3, 1},   // N=1, K=1
    ConvShape{ 1,  2,  3,  5,  4, 1, 1, 0},   // N=1, 1x1
    ConvShape{ 3, 16,  9,  7, 16, 3, 3, 0},   // Winograd: odd P and Q (partial edge tiles)
    ConvShape{ 2, 16,  5,  6, 20, 3, 3, 2},   // Winograd: pad 2 (backward data without padding)
    ConvShape{ 1, 20, 11,  4, 17, 3, 3, 1},   // Winograd: N=1, one tile column pair
    ConvShape{ 9, 16,  4,  4, 16, 3, 3, 0},   // Winograd: one tile per image, blocks span images
    ConvShape{ 4, 16,  3,  3, 16, 3, 3, 0},   // 3x3 with a 1x1 output: im2col
    ConvShape{ 4,  1, 28, 28, 32, 5, 5, 0},   // seed conv1
    ConvShape{ 2, 32, 12, 12, 64, 3, 3, 0},   // seed conv2
    ConvShape{ 2, 32, 26, 26, 64, 3, 3, 0},   // keras conv2
    ConvShape{ 3,  2,  9, 32,  8, 5, 5, 0},   // direct: Q=28 (shifted last block, 4-column filter tail)
    ConvShape{ 2,  3, 12, 13, 16, 5, 5, 0},   // direct: Q=9 (overlapping 8-column blocks)
    ConvShape{ 1,  1, 28, 28, 32, 5, 5, 0},   // direct: seed conv1, N=1
    ConvShape{19,  1, 28, 28, 32, 5, 5, 0}),  // direct: seed conv1, uneven filter chunks
    conv_name);
// clang-format on

// The im2col path on the 3x3 shapes that normally go to Winograd (it serves them when pad > 2 and
// on request), all three ops against the reference.
TEST(CpuConvIm2col, MatchesReferenceOnWinogradShapes) {
  cpu::detail::set_winograd_enabled(false);
  for (const ConvShape s : {ConvShape{2, 17, 6, 5, 33, 3, 3, 1}, ConvShape{3, 16, 9, 7, 16, 3, 3, 0},
                            ConvShape{2, 32, 12, 12, 64, 3, 3, 0}, ConvShape{2, 16, 7, 7, 16, 3, 3, 3}}) {
    SCOPED_TRACE(::testing::Message() << "N=" << s.N << " C=" << s.C << " H=" << s.H << " K=" << s.K << " pad=" << s.pad);
    EXPECT_FALSE(cpu::detail::winograd_applicable(s));
    const auto x = random_vector(s.in_size(), 1), w = random_vector(s.weight_size(), 2),
               dy = random_vector(s.out_size(), 3);
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
  cpu::detail::set_winograd_enabled(true);
  EXPECT_TRUE(cpu::detail::winograd_applicable(ConvShape{2, 32, 12, 12, 64, 3, 3, 0}));
}

TEST(CpuConvChecks, RejectsBadShapes) {
  std::vector<float> a(64), b(64), c(64);
  EXPECT_THROW(cpu::conv2d_forward(ConvShape{1, 1, 2, 2, 1, 3, 3, 0}, a.data(), b.data(), c.data()), Error);
  EXPECT_THROW(cpu::conv2d_forward(ConvShape{1, 0, 2, 2, 1, 1, 1, 0}, a.data(), b.data(), c.data()), Error);
  EXPECT_THROW(cpu::conv2d_backward_filter(ConvShape{1, 1, 2, 2, 1, 1, 1, -1}, a.data(), b.data(), c.data()), Error);
}

// ---- bias --------------------------------------------------------------------------------------
struct BiasShape {
  int N, C, HW;
};

TEST(CpuBias, ForwardAndBackwardMatchReference) {
  // clang-format off
  for (const BiasShape b : {BiasShape{1, 1, 1}, BiasShape{3, 5, 7}, BiasShape{2, 33, 1}, BiasShape{128, 10, 1},
                            BiasShape{4, 17, 100}, BiasShape{1, 3, 31}, BiasShape{16, 64, 576}}) {
    // clang-format on
    SCOPED_TRACE(::testing::Message() << "N=" << b.N << " C=" << b.C << " HW=" << b.HW);
    const size_t n = size_t(b.N) * b.C * b.HW;
    const auto bias = random_vector(b.C, 7), y0 = random_vector(n, 8);
    auto y = y0, want = y0;
    cpu::bias_forward(b.N, b.C, b.HW, bias.data(), y.data());
    ref::bias_forward(b.N, b.C, b.HW, bias.data(), want.data());
    EXPECT_CLOSE(y, want, testing::kElementwise);
    auto db = poisoned(b.C), want_db = poisoned(b.C);
    cpu::bias_backward(b.N, b.C, b.HW, y0.data(), db.data());
    ref::bias_backward(b.N, b.C, b.HW, y0.data(), want_db.data());
    EXPECT_CLOSE(db, want_db, testing::kReduction);
  }
}

// ---- max pooling -------------------------------------------------------------------------------
TEST(CpuMaxPool, ForwardAndBackwardMatchReferenceIncludingTies) {
  // clang-format off
  for (const PoolShape s : {PoolShape{1, 1, 5, 5, 2}, PoolShape{2, 3, 7, 9, 2}, PoolShape{3, 5, 6, 6, 3},
                            PoolShape{1, 17, 4, 4, 4}, PoolShape{2, 2, 9, 4, 1}, PoolShape{4, 33, 24, 24, 2},
                            PoolShape{2, 3, 11, 10, 3}, PoolShape{2, 3, 13, 19, 2}}) {
    // clang-format on
    SCOPED_TRACE(::testing::Message() << "N=" << s.N << " C=" << s.C << " H=" << s.H << " W=" << s.W
                                      << " size=" << s.size);
    for (bool ties : {false, true}) {
      auto x = random_vector(s.in_size(), 9);
      if (ties)
        for (auto& v : x) v = std::round(v * 2);  // values in {-2..2}: many equal maxima in a window
      auto y = poisoned(s.out_size()), want = poisoned(s.out_size());
      std::vector<int32_t> am(s.out_size(), -1), want_am(s.out_size(), -2);
      cpu::maxpool_forward(s, x.data(), y.data(), am.data());
      ref::maxpool_forward(s, x.data(), want.data(), want_am.data());
      EXPECT_EQ(y, want);
      EXPECT_EQ(am, want_am);
      const auto dy = random_vector(s.out_size(), 10);
      auto dx = poisoned(s.in_size()), want_dx = poisoned(s.in_size());
      cpu::maxpool_backward(s, dy.data(), want_am.data(), dx.data());
      ref::maxpool_backward(s, dy.data(), want_am.data(), want_dx.data());
      EXPECT_EQ(dx, want_dx);
    }
  }
}

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

// ---- dense -------------------------------------------------------------------------------------
TEST(CpuDense, ForwardAndBackwardsMatchReference) {
  // clang-format off
  for (const DenseShape s : {DenseShape{1, 1, 1}, DenseShape{1, 17, 5}, DenseShape{3, 33, 10}, DenseShape{5, 3, 1},
                             DenseShape{7, 1600, 128}, DenseShape{128, 64, 10}, DenseShape{33, 9216, 17}}) {
    // clang-format on
    SCOPED_TRACE(::testing::Message() << "N=" << s.N << " in=" << s.in << " out=" << s.out);
    const size_t nx = size_t(s.N) * s.in, ny = size_t(s.N) * s.out, nw = size_t(s.out) * s.in;
    const auto x = random_vector(nx, 11), w = random_vector(nw, 12), dy = random_vector(ny, 13);
    auto y = poisoned(ny), want_y = poisoned(ny);
    cpu::dense_forward(s, x.data(), w.data(), y.data());
    ref::dense_forward(s, x.data(), w.data(), want_y.data());
    EXPECT_CLOSE(y, want_y, testing::kConvGemm);
    auto dx = poisoned(nx), want_dx = poisoned(nx);
    cpu::dense_backward_data(s, dy.data(), w.data(), dx.data());
    ref::dense_backward_data(s, dy.data(), w.data(), want_dx.data());
    EXPECT_CLOSE(dx, want_dx, testing::kConvGemm);
    auto dw = poisoned(nw), want_dw = poisoned(nw);
    cpu::dense_backward_weight(s, x.data(), dy.data(), dw.data());
    ref::dense_backward_weight(s, x.data(), dy.data(), want_dw.data());
    EXPECT_CLOSE(dw, want_dw, testing::kConvGemm);
  }
}

// ---- activations -------------------------------------------------------------------------------
const size_t kLengths[] = {1, 3, 63, 64, 65, 1000, 100003};

TEST(CpuRelu, ForwardAndBackwardMatchReference) {
  for (size_t n : kLengths) {
    SCOPED_TRACE(n);
    const auto x = random_vector(n, 14), dy = random_vector(n, 15);
    auto y = poisoned(n), want = poisoned(n);
    cpu::relu_forward(n, x.data(), y.data());
    ref::relu_forward(n, x.data(), want.data());
    EXPECT_CLOSE(y, want, testing::kElementwise);
    auto dx = poisoned(n), want_dx = poisoned(n);
    cpu::relu_backward(n, want.data(), dy.data(), dx.data());
    ref::relu_backward(n, want.data(), dy.data(), want_dx.data());
    EXPECT_CLOSE(dx, want_dx, testing::kElementwise);
    auto inplace = x;  // x and y may alias
    cpu::relu_forward(n, inplace.data(), inplace.data());
    EXPECT_EQ(inplace, want);
  }
}

TEST(CpuDropout, ForwardAndBackwardMatchReferenceExactly) {
  const uint64_t big_seed = (uint64_t(1) << 40) + 5;
  for (size_t n : kLengths)
    for (float rate : {0.f, 0.25f, 0.3f, 0.5f})
      for (uint64_t seed : {uint64_t(0), uint64_t(12345), big_seed}) {
        SCOPED_TRACE(::testing::Message() << "n=" << n << " rate=" << rate << " seed=" << seed);
        const auto x = random_vector(n, 16);
        auto y = poisoned(n), want = poisoned(n);
        cpu::dropout_forward(n, rate, seed, x.data(), y.data());
        ref::dropout_forward(n, rate, seed, x.data(), want.data());
        ASSERT_EQ(y, want);  // same mask bits and the same float scale: identical
        auto dx = poisoned(n), want_dx = poisoned(n);
        cpu::dropout_backward(n, rate, seed, x.data(), dx.data());
        ref::dropout_backward(n, rate, seed, x.data(), want_dx.data());
        ASSERT_EQ(dx, want_dx);
        auto inplace = x;
        cpu::dropout_forward(n, rate, seed, inplace.data(), inplace.data());
        ASSERT_EQ(inplace, want);
      }
  std::vector<float> v(4);
  EXPECT_THROW(cpu::dropout_forward(4, 1.f, 1, v.data(), v.data()), Error);
}

// ---- softmax cross-entropy and statistics ------------------------------------------------------
TEST(CpuSoftmaxXent, MatchesReferenceIncludingHugeLogits) {
  for (const auto& [N, K] : {std::pair{1, 1}, std::pair{3, 10}, std::pair{200, 7}, std::pair{5000, 10}}) {
    SCOPED_TRACE(::testing::Message() << "N=" << N << " K=" << K);
    const size_t nk = size_t(N) * K;
    auto logits = random_vector(nk, 17, -5, 5);
    logits[0] = 1e30f;  // overflow-prone row
    if (nk > 1) logits[1] = -1e30f;
    std::vector<int32_t> labels(N);
    std::mt19937 rng(18);
    for (auto& l : labels) l = int32_t(rng() % K);
    const float scale = 1.0f / N;
    auto probs = poisoned(nk), loss = poisoned(N), dl = poisoned(nk);
    auto want_probs = poisoned(nk), want_loss = poisoned(N), want_dl = poisoned(nk);
    cpu::softmax_xent(N, K, logits.data(), labels.data(), probs.data(), loss.data(), dl.data(), scale);
    ref::softmax_xent(N, K, logits.data(), labels.data(), want_probs.data(), want_loss.data(), want_dl.data(), scale);
    EXPECT_CLOSE(probs, want_probs, testing::kReduction);
    EXPECT_CLOSE(loss, want_loss, testing::kReduction);
    EXPECT_CLOSE(dl, want_dl, testing::kReduction);
    auto probs2 = poisoned(nk), loss2 = poisoned(N);
    cpu::softmax_xent(N, K, logits.data(), labels.data(), probs2.data(), loss2.data(), nullptr, scale);
    EXPECT_EQ(probs2, probs);
    double stats[2] = {0.5, 1.0}, want_stats[2] = {0.5, 1.0};
    cpu::accumulate_stats(N, K, probs.data(), labels.data(), loss.data(), stats);
    ref::accumulate_stats(N, K, probs.data(), labels.data(), loss.data(), want_stats);
    EXPECT_EQ(stats[0], want_stats[0]);
    EXPECT_EQ(stats[1], want_stats[1]);
  }
  const std::vector<float> logits{1, 2};
  const std::vector<int32_t> bad{-1};
  std::vector<float> p(2), l(1);
  EXPECT_THROW(cpu::softmax_xent(1, 2, logits.data(), bad.data(), p.data(), l.data(), nullptr, 1.f), Error);
}

// ---- batches -----------------------------------------------------------------------------------
TEST(CpuGatherBatch, MatchesReference) {
  const int count = 300, pixels = 784;
  std::vector<uint8_t> images(size_t(count) * pixels), labels(count);
  std::mt19937 rng(19);
  for (auto& v : images) v = uint8_t(rng());
  for (auto& v : labels) v = uint8_t(rng() % 10);
  for (int n : {1, 7, 128}) {
    std::vector<int32_t> index(n);
    for (auto& i : index) i = int32_t(rng() % count);
    auto x = poisoned(size_t(n) * pixels), want = poisoned(size_t(n) * pixels);
    std::vector<int32_t> out(n, -1), want_out(n, -2);
    const float scale = 1.0f / 255 / 0.3081f, shift = -0.1307f / 0.3081f;
    cpu::gather_batch(n, pixels, images.data(), labels.data(), index.data(), scale, shift, x.data(), out.data());
    ref::gather_batch(n, pixels, images.data(), labels.data(), index.data(), scale, shift, want.data(), want_out.data());
    EXPECT_CLOSE(x, want, testing::kElementwise);
    EXPECT_EQ(out, want_out);
  }
}

// ---- optimizers --------------------------------------------------------------------------------
struct OptState {
  std::vector<float> w, g, s1, s2;
};
OptState opt_state(size_t n) {
  OptState s{random_vector(n, 20), random_vector(n, 21), random_vector(n, 22, 0.f, 0.1f), random_vector(n, 23, 0.f, 0.01f)};
  return s;
}

TEST(CpuOptimizers, AdadeltaSgdAdamMatchReference) {
  for (size_t n : kLengths) {
    SCOPED_TRACE(n);
    {
      auto a = opt_state(n), b = a;
      cpu::adadelta_update(n, AdadeltaParams{}, a.w.data(), a.g.data(), a.s1.data(), a.s2.data());
      ref::adadelta_update(n, AdadeltaParams{}, b.w.data(), b.g.data(), b.s1.data(), b.s2.data());
      EXPECT_CLOSE(a.w, b.w, testing::kOptimizer);
      EXPECT_CLOSE(a.s1, b.s1, testing::kOptimizer);
      EXPECT_CLOSE(a.s2, b.s2, testing::kOptimizer);
    }
    {
      auto a = opt_state(n), b = a;
      cpu::sgd_update(n, SgdParams{0.05f, 0.9f}, a.w.data(), a.g.data(), a.s1.data());
      ref::sgd_update(n, SgdParams{0.05f, 0.9f}, b.w.data(), b.g.data(), b.s1.data());
      EXPECT_CLOSE(a.w, b.w, testing::kOptimizer);
      EXPECT_CLOSE(a.s1, b.s1, testing::kOptimizer);
    }
    {
      auto a = opt_state(n), b = a;
      AdamParams p;
      p.t = 7;
      cpu::adam_update(n, p, a.w.data(), a.g.data(), a.s1.data(), a.s2.data());
      ref::adam_update(n, p, b.w.data(), b.g.data(), b.s1.data(), b.s2.data());
      EXPECT_CLOSE(a.w, b.w, testing::kOptimizer);
      EXPECT_CLOSE(a.s1, b.s1, testing::kOptimizer);
      EXPECT_CLOSE(a.s2, b.s2, testing::kOptimizer);
    }
  }
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
