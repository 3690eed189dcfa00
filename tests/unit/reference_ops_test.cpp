// The reference ops checked two ways: tiny cases computed by hand (incl. Keras's Adadelta numbers,
// the dropout keep rate, Philox known answers, the max-pool tie rule, softmax with huge logits). The
// finite-difference gradient checks are the op harness's (OpGrad in op_harness_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include "error.h"
#include "philox.h"
#include "reference/reference_ops.h"
#include "testing/compare.h"

namespace digits {
namespace {

namespace ref = digits::reference;
using testing::poisoned;

std::vector<float> iota_vec(size_t n, float start = 1.f) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// ---- convolution -------------------------------------------------------------------------------
TEST(ReferenceConv, ForwardValidByHand) {
  // x = [1..9] as 3x3, w = [[1, 0], [0, 1]]: y[p][q] = x[p][q] + x[p+1][q+1]
  const ConvShape s{1, 1, 3, 3, 1, 2, 2, 0};
  const auto x = iota_vec(9);
  const std::vector<float> w{1, 0, 0, 1};
  auto y = poisoned(s.out_size());
  ref::conv2d_forward(s, x.data(), w.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{6, 8, 12, 14}));
}

TEST(ReferenceConv, ForwardSamePaddingCountsNeighbours) {
  // all ones, 3x3 filter of ones, pad 1: each output counts its in-image neighbours (4, 6 or 9)
  const ConvShape s{1, 1, 3, 3, 1, 3, 3, 1};
  const std::vector<float> x(9, 1.f), w(9, 1.f);
  auto y = poisoned(s.out_size());
  ref::conv2d_forward(s, x.data(), w.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{4, 6, 4, 6, 9, 6, 4, 6, 4}));
}

TEST(ReferenceConv, ForwardSumsChannelsPerOutputChannel) {
  // 2 input channels of constant 1 and 2, 1x1 filters: y_k = w_k0 * 1 + w_k1 * 2
  const ConvShape s{1, 2, 2, 2, 2, 1, 1, 0};
  const std::vector<float> x{1, 1, 1, 1, 2, 2, 2, 2}, w{1, 10, -1, 0.5f};
  auto y = poisoned(s.out_size());
  ref::conv2d_forward(s, x.data(), w.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{21, 21, 21, 21, 0, 0, 0, 0}));
}

TEST(ReferenceConv, BackwardDataByHand) {
  // one output: dy = 2 spreads as 2 * w over the 2x2 input
  const ConvShape s{1, 1, 2, 2, 1, 2, 2, 0};
  const std::vector<float> dy{2}, w{1, 2, 3, 4};
  auto dx = poisoned(s.in_size());
  ref::conv2d_backward_data(s, dy.data(), w.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<float>{2, 4, 6, 8}));
}

TEST(ReferenceConv, BackwardFilterByHand) {
  // x = [1..9] as 3x3, dy = ones 2x2: dw[r][t] = sum of the 2x2 window at (r, t)
  const ConvShape s{1, 1, 3, 3, 1, 2, 2, 0};
  const auto x = iota_vec(9);
  const std::vector<float> dy(4, 1.f);
  auto dw = poisoned(s.weight_size());
  ref::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
  EXPECT_EQ(dw, (std::vector<float>{12, 16, 24, 28}));
}

TEST(ReferenceConv, BackwardFilterSumsOverTheBatch) {
  const ConvShape s{2, 1, 1, 1, 1, 1, 1, 0};
  const std::vector<float> x{3, 5}, dy{2, -1};
  auto dw = poisoned(1);
  ref::conv2d_backward_filter(s, x.data(), dy.data(), dw.data());
  EXPECT_EQ(dw[0], 3 * 2 + 5 * -1);
}

// ---- bias --------------------------------------------------------------------------------------
TEST(ReferenceBias, ForwardAddsPerChannelAndBackwardSums) {
  const int N = 2, C = 2, HW = 3;
  std::vector<float> y(N * C * HW, 1.f);
  const std::vector<float> b{10, -1};
  ref::bias_forward(N, C, HW, b.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{11, 11, 11, 0, 0, 0, 11, 11, 11, 0, 0, 0}));
  const auto dy = iota_vec(N * C * HW);  // 1..12
  auto db = poisoned(C);
  ref::bias_backward(N, C, HW, dy.data(), db.data());
  EXPECT_EQ(db, (std::vector<float>{1 + 2 + 3 + 7 + 8 + 9, 4 + 5 + 6 + 10 + 11 + 12}));
}

// ---- max pooling -------------------------------------------------------------------------------
TEST(ReferenceMaxPool, PicksMaxAndItsPlaneIndex) {
  // 4x4 plane, 2x2 windows
  const PoolShape s{1, 1, 4, 4, 2};
  const std::vector<float> x{1, 2, 0, 0,   //
                             3, 4, 9, 0,   //
                             5, 1, -1, -2,  //
                             1, 1, -3, -1};
  auto y = poisoned(s.out_size());
  std::vector<int32_t> am(s.out_size(), -7);
  ref::maxpool_forward(s, x.data(), y.data(), am.data());
  EXPECT_EQ(y, (std::vector<float>{4, 9, 5, -1}));
  EXPECT_EQ(am, (std::vector<int32_t>{5, 6, 8, 2 * 4 + 2}));
}

TEST(ReferenceMaxPool, TiesGoToTheFirstInRowMajorOrder) {
  const PoolShape s{1, 1, 2, 4, 2};
  const std::vector<float> x{7, 7, 0, 3,  //
                             7, 7, 3, 3};
  auto y = poisoned(s.out_size());
  std::vector<int32_t> am(s.out_size(), -7);
  ref::maxpool_forward(s, x.data(), y.data(), am.data());
  EXPECT_EQ(y, (std::vector<float>{7, 3}));
  EXPECT_EQ(am, (std::vector<int32_t>{0, 3}));
}

TEST(ReferenceMaxPool, DropsTrailingRowsAndColumnsAndRoutesGradient) {
  const PoolShape s{1, 1, 3, 5, 2};  // P = 1, Q = 2
  ASSERT_EQ(s.P(), 1);
  ASSERT_EQ(s.Q(), 2);
  const std::vector<float> x{0, 1, 2, 0, 99,  //
                             0, 0, 0, 0, 99,  //
                             99, 99, 99, 99, 99};
  auto y = poisoned(s.out_size());
  std::vector<int32_t> am(s.out_size());
  ref::maxpool_forward(s, x.data(), y.data(), am.data());
  EXPECT_EQ(y, (std::vector<float>{1, 2}));
  EXPECT_EQ(am, (std::vector<int32_t>{1, 2}));
  const std::vector<float> dy{5, -3};
  auto dx = poisoned(s.in_size());
  ref::maxpool_backward(s, dy.data(), am.data(), dx.data());
  std::vector<float> want(s.in_size(), 0.f);
  want[1] = 5, want[2] = -3;
  EXPECT_EQ(dx, want);
}

// ---- dense -------------------------------------------------------------------------------------
TEST(ReferenceDense, ForwardAndBothBackwardsByHand) {
  const DenseShape s{1, 2, 3};
  const std::vector<float> x{1, 2}, w{1, 0, 0, 1, 1, 1};  // w (3, 2)
  auto y = poisoned(3);
  ref::dense_forward(s, x.data(), w.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 2, 3}));
  const std::vector<float> dy{1, 1, 1};
  auto dx = poisoned(2);
  ref::dense_backward_data(s, dy.data(), w.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<float>{2, 2}));
  auto dw = poisoned(6);
  ref::dense_backward_weight(s, x.data(), dy.data(), dw.data());
  EXPECT_EQ(dw, (std::vector<float>{1, 2, 1, 2, 1, 2}));
}

// ---- activations -------------------------------------------------------------------------------
TEST(ReferenceRelu, ClampsAndMasksGradient) {
  const std::vector<float> x{-1, 0, 2, -0.5f, 3};
  auto y = poisoned(x.size());
  ref::relu_forward(x.size(), x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{0, 0, 2, 0, 3}));
  const std::vector<float> dy{10, 20, 30, 40, 50};
  auto dx = poisoned(x.size());
  ref::relu_backward(x.size(), y.data(), dy.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<float>{0, 0, 30, 0, 50}));
}

TEST(ReferenceRelu, WorksInPlace) {
  std::vector<float> x{-1, 4};
  ref::relu_forward(x.size(), x.data(), x.data());
  EXPECT_EQ(x, (std::vector<float>{0, 4}));
}

// ---- Philox and dropout ------------------------------------------------------------------------
TEST(ReferencePhilox, MatchesRandom123KnownAnswers) {
  // Philox4x32-10 known-answer vectors of Random123 (kat_vectors).
  Philox4 r = philox4x32_10(0, 0, 0, 0, 0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
  r = philox4x32_10(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(r.v[0], 0x408f276du);
  EXPECT_EQ(r.v[1], 0x41c83b0eu);
  EXPECT_EQ(r.v[2], 0xa20bc7c6u);
  EXPECT_EQ(r.v[3], 0x6d5451fdu);
  r = philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(r.v[0], 0xd16cfe09u);
  EXPECT_EQ(r.v[1], 0x94fdccebu);
  EXPECT_EQ(r.v[2], 0x5001e420u);
  EXPECT_EQ(r.v[3], 0x24126ea1u);
}

TEST(ReferencePhilox, DependsOnlyOnSeedAndIndex) {
  for (uint64_t i : {0ull, 1ull, 5ull, 1000003ull, (1ull << 34) + 7}) {
    const float u = philox_uniform(42, i);
    EXPECT_EQ(u, philox_uniform(42, i));
    EXPECT_GE(u, 0.f);
    EXPECT_LT(u, 1.f);
  }
  int same = 0;
  for (uint64_t i = 0; i < 256; ++i) same += philox_uniform(1, i) == philox_uniform(2, i);
  EXPECT_LT(same, 3);
  // the high half of the seed matters too
  same = 0;
  for (uint64_t i = 0; i < 256; ++i) same += philox_uniform(7, i) == philox_uniform(7 + (1ull << 32), i);
  EXPECT_LT(same, 3);
}

TEST(ReferenceDropout, KeepsAboutOneMinusRateAndScalesKeptValues) {
  const size_t n = 200000;
  const std::vector<float> x(n, 1.5f);
  for (float rate : {0.25f, 0.5f}) {
    auto y = poisoned(n);
    ref::dropout_forward(n, rate, 1234, x.data(), y.data());
    const float scale = 1.0f / (1.0f - rate);
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      if (y[i] != 0.f) {
        ++kept;
        ASSERT_EQ(y[i], 1.5f * scale) << i;
      }
      ASSERT_EQ(y[i] != 0.f, philox_uniform(1234, i) >= rate) << i;
    }
    // binomial: sigma = sqrt(n p (1-p)) ~ 200; allow 5 sigma
    const double expected = double(n) * (1.0 - rate);
    EXPECT_NEAR(double(kept), expected, 5 * std::sqrt(expected * rate));
  }
}

TEST(ReferenceDropout, BackwardUsesTheSameMaskAndRateZeroIsIdentity) {
  const size_t n = 1000;
  const auto x = testing::random_vector(n, 3);
  auto y = poisoned(n), dx = poisoned(n);
  ref::dropout_forward(n, 0.3f, 99, x.data(), y.data());
  ref::dropout_backward(n, 0.3f, 99, x.data(), dx.data());
  EXPECT_EQ(y, dx);  // same input, same mask, same scale
  ref::dropout_forward(n, 0.f, 99, x.data(), y.data());
  EXPECT_EQ(y, x);
}

TEST(ReferenceDropout, DifferentSeedsGiveDifferentMasks) {
  const size_t n = 1000;
  const std::vector<float> x(n, 1.f);
  auto a = poisoned(n), b = poisoned(n);
  ref::dropout_forward(n, 0.5f, 1, x.data(), a.data());
  ref::dropout_forward(n, 0.5f, 2, x.data(), b.data());
  EXPECT_NE(a, b);
}

// ---- softmax cross-entropy ---------------------------------------------------------------------
TEST(ReferenceSoftmaxXent, SmallCaseByHand) {
  const std::vector<float> logits{0, std::log(3.f)};  // probs 1/4, 3/4
  const std::vector<int32_t> labels{0};
  auto probs = poisoned(2), loss = poisoned(1), dl = poisoned(2);
  ref::softmax_xent(1, 2, logits.data(), labels.data(), probs.data(), loss.data(), dl.data(), 0.5f);
  EXPECT_NEAR(probs[0], 0.25f, 1e-7);
  EXPECT_NEAR(probs[1], 0.75f, 1e-7);
  EXPECT_NEAR(loss[0], std::log(4.f), 1e-6);
  EXPECT_NEAR(dl[0], (0.25f - 1.f) * 0.5f, 1e-7);
  EXPECT_NEAR(dl[1], 0.75f * 0.5f, 1e-7);
}

TEST(ReferenceSoftmaxXent, StableWithHugeLogits) {
  const std::vector<float> logits{1000, 0, -1000, 3e38f, 3e38f, -3e38f};
  const std::vector<int32_t> labels{1, 0};
  auto probs = poisoned(6), loss = poisoned(2), dl = poisoned(6);
  ref::softmax_xent(2, 3, logits.data(), labels.data(), probs.data(), loss.data(), dl.data(), 1.f);
  for (float v : probs) EXPECT_TRUE(std::isfinite(v));
  EXPECT_EQ(probs[0], 1.f);
  EXPECT_EQ(probs[1], 0.f);
  EXPECT_NEAR(loss[0], 1000.f, 1e-3);  // -log softmax = 1000 exactly, no overflow to inf
  EXPECT_NEAR(probs[3], 0.5f, 1e-7);
  EXPECT_NEAR(probs[4], 0.5f, 1e-7);
  EXPECT_NEAR(loss[1], std::log(2.f), 1e-6);
  EXPECT_NEAR(dl[3], -0.5f, 1e-7);
  EXPECT_EQ(dl[5], 0.f);
}

TEST(ReferenceSoftmaxXent, NullGradientAndBadLabel) {
  const std::vector<float> logits{1, 2, 3};
  std::vector<int32_t> labels{2};
  auto probs = poisoned(3), loss = poisoned(1);
  ref::softmax_xent(1, 3, logits.data(), labels.data(), probs.data(), loss.data(), nullptr, 1.f);
  EXPECT_NEAR(probs[0] + probs[1] + probs[2], 1.f, 1e-6);
  labels[0] = 3;
  EXPECT_THROW(ref::softmax_xent(1, 3, logits.data(), labels.data(), probs.data(), loss.data(), nullptr, 1.f), Error);
}

TEST(ReferenceStats, AccumulatesLossAndFirstMaxAccuracy) {
  // row 0: argmax 1 (correct); row 1: tie between 0 and 2 -> 0 (label 2: wrong); row 2: argmax 2 (correct)
  const std::vector<float> probs{0.1f, 0.8f, 0.1f, 0.4f, 0.2f, 0.4f, 0.f, 0.f, 1.f};
  const std::vector<int32_t> labels{1, 2, 2};
  const std::vector<float> loss{0.5f, 1.f, 0.25f};
  double stats[2] = {1.0, 10.0};
  ref::accumulate_stats(3, 3, probs.data(), labels.data(), loss.data(), stats);
  EXPECT_DOUBLE_EQ(stats[0], 1.0 + 1.75);
  EXPECT_DOUBLE_EQ(stats[1], 10.0 + 2.0);
}

// ---- batches -----------------------------------------------------------------------------------
TEST(ReferenceGatherBatch, PicksByIndexAndNormalises) {
  const std::vector<uint8_t> images{0, 255, 10, 20, 30, 40};  // 3 images of 2 pixels
  const std::vector<uint8_t> labels{7, 8, 9};
  const std::vector<int32_t> index{2, 0};
  auto x = poisoned(4);
  std::vector<int32_t> out(2, -1);
  ref::gather_batch(2, 2, images.data(), labels.data(), index.data(), 0.5f, -1.f, x.data(), out.data());
  EXPECT_EQ(x, (std::vector<float>{14, 19, -1, 126.5f}));
  EXPECT_EQ(out, (std::vector<int32_t>{9, 7}));
}

// ---- optimizers --------------------------------------------------------------------------------
TEST(ReferenceAdadelta, MatchesKerasNumbersOverTwoSteps) {
  // Keras Adadelta (lr 1.0, rho 0.95, eps 1e-7) from w = 0.5 with gradients 1.0 then -0.5, computed in
  // double with the Keras formulas (tf.keras.optimizers.Adadelta).
  AdadeltaParams p;
  float w = 0.5f, a = 0.f, u = 0.f;
  float g = 1.0f;
  ref::adadelta_update(1, p, &w, &g, &a, &u);
  EXPECT_NEAR(w, 0.4985857878518383, 1e-7);
  // float's 1 - 0.95f is 0.05000001: the accumulators agree to a few float roundings, not to double
  EXPECT_NEAR(a, 0.05, 1e-7);
  EXPECT_NEAR(u, 9.999980000039998e-08, 1e-12);
  g = -0.5f;
  ref::adadelta_update(1, p, &w, &g, &a, &u);
  EXPECT_NEAR(w, 0.4994986575638545, 1e-7);
  EXPECT_NEAR(a, 0.06, 1e-7);
  EXPECT_NEAR(u, 1.3666636555620404e-07, 1e-12);
}

TEST(ReferenceSgd, MomentumAsPyTorch) {
  SgdParams p{0.1f, 0.9f};
  std::vector<float> w{1.f}, g{2.f}, v{0.f};
  ref::sgd_update(1, p, w.data(), g.data(), v.data());
  EXPECT_FLOAT_EQ(v[0], 2.f);
  EXPECT_FLOAT_EQ(w[0], 0.8f);
  ref::sgd_update(1, p, w.data(), g.data(), v.data());
  EXPECT_FLOAT_EQ(v[0], 3.8f);
  EXPECT_FLOAT_EQ(w[0], 0.42f);
}

TEST(ReferenceAdam, FirstStepMovesByLrTimesSign) {
  AdamParams p;
  p.lr = 0.01f;
  std::vector<float> w{1.f, 1.f}, g{3.f, -0.002f}, m(2, 0.f), v(2, 0.f);
  ref::adam_update(2, p, w.data(), g.data(), m.data(), v.data());
  // |m_hat / (sqrt(v_hat) + eps)| = |g| / (|g| + eps), within 1e-4 of 1 for these g
  EXPECT_NEAR(w[0], 1.f - 0.01f, 1e-5);
  EXPECT_NEAR(w[1], 1.f + 0.01f, 1e-5);
  EXPECT_NEAR(m[0], 0.3f, 1e-7);
  EXPECT_NEAR(v[0], 0.009f, 2e-7);  // float 1 - 0.999f = 0.00099999 (rel. error 1e-5)
}

}  // namespace
}  // namespace digits
