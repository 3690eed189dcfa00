// Batch normalization: the reference by hand and by finite differences (double), the optimised CPU path
// against the reference on awkward shapes (incl. a large mean), thread-count independence, and the
// batchnorm layer inside a model (train vs inference mode, running statistics saved and loaded).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend.h"
#include "cpu/cpu_ops.h"
#include "error.h"
#include "model.h"
#include "reference/reference_impl.h"
#include "reference/reference_ops.h"
#include "testing/compare.h"
#include "testing/files.h"
#include "testing/gradcheck.h"

namespace digits {
namespace {

namespace ref = digits::reference;
namespace typed = digits::reference::typed;
using testing::random_vector;
using testing::numeric_gradient;
using testing::random_doubles;
using testing::Vec;

// ---- reference by hand ----------------------------------------------------------------------------
TEST(ReferenceBatchNorm, NormalisesEachChannelByHand) {
  // N=2, C=2, HW=2: channel 0 holds {1, 3, 5, 7} (mean 4, var 5), channel 1 is constant 2 (var 0).
  const std::vector<float> x{1, 3, 2, 2, 5, 7, 2, 2}, gamma{2, 1}, beta{0.5f, -1};
  std::vector<float> y(8), mean(2), inv_std(2), rm{0, 0}, rv{1, 1};
  ref::batchnorm_forward_train(2, 2, 2, 1e-5f, 0.1f, x.data(), gamma.data(), beta.data(), y.data(), mean.data(),
                               inv_std.data(), rm.data(), rv.data());
  const double is0 = 1 / std::sqrt(5 + 1e-5);
  EXPECT_FLOAT_EQ(mean[0], 4.f);
  EXPECT_FLOAT_EQ(inv_std[0], float(is0));
  EXPECT_FLOAT_EQ(y[0], float(2 * (1 - 4) * is0 + 0.5));
  EXPECT_FLOAT_EQ(y[5], float(2 * (7 - 4) * is0 + 0.5));
  EXPECT_FLOAT_EQ(y[2], -1.f);  // constant channel: x - mean = 0, y = beta
  EXPECT_FLOAT_EQ(rm[0], 0.4f);
  EXPECT_FLOAT_EQ(rv[0], float(0.9 + 0.1 * 5 * 4 / 3.0));  // unbiased variance 20/3
  EXPECT_FLOAT_EQ(rv[1], 0.9f);                            // constant channel: running var decays to 0
  // Inference with the running statistics.
  std::vector<float> yi(8);
  ref::batchnorm_forward_infer(2, 2, 2, 1e-5f, x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), yi.data());
  EXPECT_FLOAT_EQ(yi[0], float(2 * (1 - 0.4) / std::sqrt(double(rv[0]) + 1e-5) + 0.5));
}

TEST(ReferenceBatchNorm, RejectsBadArguments) {
  std::vector<float> v(8, 1.f);
  EXPECT_THROW(ref::batchnorm_forward_train(0, 2, 2, 1e-5f, 0.1f, v.data(), v.data(), v.data(), v.data(), v.data(),
                                            v.data(), v.data(), v.data()),
               Error);
  EXPECT_THROW(ref::batchnorm_forward_infer(1, 2, 2, 0.f, v.data(), v.data(), v.data(), v.data(), v.data(), v.data()),
               Error);
  EXPECT_THROW(ref::batchnorm_forward_train(1, 2, 2, 1e-5f, 1.5f, v.data(), v.data(), v.data(), v.data(), v.data(),
                                            v.data(), v.data(), v.data()),
               Error);
}

// ---- finite differences in double ---------------------------------------------------------------
struct BnShape {
  int N, C, HW;
};

class GradCheckBatchNorm : public ::testing::TestWithParam<BnShape> {};

TEST_P(GradCheckBatchNorm, InputScaleAndShiftGradientsMatchCentralDifferences) {
  const auto [N, C, HW] = GetParam();
  const size_t n = size_t(N) * C * HW;
  Vec x = random_doubles(n, 11, -2, 3), gamma = random_doubles(size_t(C), 12, 0.5, 2), beta = random_doubles(size_t(C), 13);
  const Vec G = random_doubles(n, 14);  // L = <y, G>
  Vec y(n), mean(static_cast<size_t>(C)), inv_std(static_cast<size_t>(C)), rm(static_cast<size_t>(C)), rv(static_cast<size_t>(C));
  auto loss = [&] {
    typed::batchnorm_forward_train<double>(N, C, HW, 1e-5f, 0.1f, x.data(), gamma.data(), beta.data(), y.data(),
                                           mean.data(), inv_std.data(), rm.data(), rv.data());
    return testing::dot(y, G);
  };
  loss();
  Vec dx(n), dgamma(static_cast<size_t>(C)), dbeta(static_cast<size_t>(C));
  typed::batchnorm_backward<double>(N, C, HW, x.data(), G.data(), gamma.data(), mean.data(), inv_std.data(), dx.data(),
                                    dgamma.data(), dbeta.data());
  EXPECT_CLOSE(dx, numeric_gradient(x, loss), testing::kGradCheck);
  EXPECT_CLOSE(dgamma, numeric_gradient(gamma, loss), testing::kGradCheck);
  EXPECT_CLOSE(dbeta, numeric_gradient(beta, loss), testing::kGradCheck);
}

INSTANTIATE_TEST_SUITE_P(GradCheck, GradCheckBatchNorm,
                         ::testing::Values(BnShape{2, 1, 3}, BnShape{3, 2, 5}, BnShape{5, 3, 1}, BnShape{1, 2, 7}));

// ---- optimised CPU against the reference ----------------------------------------------------------
class CpuBatchNorm : public ::testing::TestWithParam<BnShape> {};

TEST_P(CpuBatchNorm, ForwardAndBackwardMatchReference) {
  const auto [N, C, HW] = GetParam();
  const size_t n = size_t(N) * C * HW;
  // A large common offset (mean ~50, spread ~3) checks the two-pass variance and the centred affine.
  auto x = random_vector(n, 21, 47.f, 53.f);
  for (size_t i = 0; i < n; i += 7) x[i] *= 1.02f;
  const auto gamma = random_vector(size_t(C), 22, 0.5f, 2.f), beta = random_vector(size_t(C), 23);
  const auto dy = random_vector(n, 24);
  std::vector<float> y(n), yr(n), m(static_cast<size_t>(C)), mr(static_cast<size_t>(C)), is(static_cast<size_t>(C)), isr(static_cast<size_t>(C));
  auto rm = random_vector(size_t(C), 25), rv = random_vector(size_t(C), 26, 0.5f, 2.f);
  auto rmr = rm, rvr = rv;
  cpu::batchnorm_forward_train(N, C, HW, 1e-5f, 0.1f, x.data(), gamma.data(), beta.data(), y.data(), m.data(),
                               is.data(), rm.data(), rv.data());
  ref::batchnorm_forward_train(N, C, HW, 1e-5f, 0.1f, x.data(), gamma.data(), beta.data(), yr.data(), mr.data(),
                               isr.data(), rmr.data(), rvr.data());
  EXPECT_CLOSE(y, yr, testing::kReduction);
  EXPECT_CLOSE(m, mr, testing::kReduction);
  EXPECT_CLOSE(is, isr, testing::kReduction);
  EXPECT_CLOSE(rm, rmr, testing::kReduction);
  EXPECT_CLOSE(rv, rvr, testing::kReduction);

  std::vector<float> dx(n), dxr(n), dg(static_cast<size_t>(C)), dgr(static_cast<size_t>(C)), db(static_cast<size_t>(C)), dbr(static_cast<size_t>(C));
  cpu::batchnorm_backward(N, C, HW, x.data(), dy.data(), gamma.data(), mr.data(), isr.data(), dx.data(), dg.data(),
                          db.data());
  ref::batchnorm_backward(N, C, HW, x.data(), dy.data(), gamma.data(), mr.data(), isr.data(), dxr.data(), dgr.data(),
                          dbr.data());
  EXPECT_CLOSE(dx, dxr, testing::kReduction);
  // dgamma, dbeta are sums of M = N*HW terms of either sign: their float rounding grows with M, not with
  // the (possibly cancelled) result, so the absolute tolerance scales with M (1e-8 M is ~1e-8 of the
  // terms' total magnitude).
  const double M = double(N) * HW;
  const testing::Tol sums{std::max(1e-5, 1e-8 * M), 1e-5, 1e-4};
  EXPECT_CLOSE(dg, dgr, sums);
  EXPECT_CLOSE(db, dbr, sums);

  std::vector<float> yi(n), yir(n);
  cpu::batchnorm_forward_infer(N, C, HW, 1e-5f, x.data(), gamma.data(), beta.data(), rmr.data(), rvr.data(), yi.data());
  ref::batchnorm_forward_infer(N, C, HW, 1e-5f, x.data(), gamma.data(), beta.data(), rmr.data(), rvr.data(), yir.data());
  EXPECT_CLOSE(yi, yir, testing::kElementwise);
  // In place.
  cpu::batchnorm_forward_infer(N, C, HW, 1e-5f, x.data(), gamma.data(), beta.data(), rmr.data(), rvr.data(), x.data());
  EXPECT_EQ(x, yi);
}

// clang-format off
INSTANTIATE_TEST_SUITE_P(Shapes, CpuBatchNorm, ::testing::Values(
    BnShape{1, 1, 3}, BnShape{3, 3, 1}, BnShape{37, 5, 1}, BnShape{128, 256, 1}, BnShape{3, 2, 15},
    BnShape{5, 3, 17}, BnShape{7, 33, 169}, BnShape{19, 32, 784}, BnShape{2, 64, 121}));
// clang-format on

TEST(CpuBatchNorm, ResultsDoNotDependOnTheThreadCount) {
  const int N = 23, C = 9, HW = 100;
  const size_t n = size_t(N) * C * HW;
  const auto x = random_vector(n, 31), dy = random_vector(n, 32), gamma = random_vector(size_t(C), 33);
  const auto beta = random_vector(size_t(C), 34);
  auto run = [&](int threads) {
    cpu::set_num_threads(threads);
    std::vector<float> y(n), m(static_cast<size_t>(C)), is(static_cast<size_t>(C)), rm(size_t(C), 0.f), rv(size_t(C), 1.f), dx(n), dg(static_cast<size_t>(C)),
        db(static_cast<size_t>(C));
    cpu::batchnorm_forward_train(N, C, HW, 1e-5f, 0.1f, x.data(), gamma.data(), beta.data(), y.data(), m.data(),
                                 is.data(), rm.data(), rv.data());
    cpu::batchnorm_backward(N, C, HW, x.data(), dy.data(), gamma.data(), m.data(), is.data(), dx.data(), dg.data(),
                            db.data());
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dg.begin(), dg.end());
    y.insert(y.end(), rv.begin(), rv.end());
    return y;
  };
  const auto one = run(1), two = run(2), three = run(3);
  cpu::set_num_threads(0);
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, three);
}

// ---- the layer inside a model ---------------------------------------------------------------------
TEST(BatchNormLayer, TrainModeUsesBatchStatisticsAndInferenceTheRunningOnes) {
  auto be = make_cpu_backend(1);
  const NetSpec spec = NetSpec::parse("flatten batchnorm dense(10)");
  Model m(*be, spec, 8);
  m.init(3);
  EXPECT_EQ(m.state_count(), 2u * 784u);
  EXPECT_EQ(m.param_count(), 2u * 784u + 7840u + 10u);
  // Input: pixel j of image i = 100 + i + j/784: batch statistics differ a lot from the initial running
  // ones (mean 0, var 1), so the two modes must give different logits.
  std::vector<float> x(8 * 784);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 100.f + float(i / 784) + float(i % 784) / 784.f;
  Buffer<float> dx(*be, x.size());
  dx.upload(x);
  const float* lt = m.forward(dx.data(), 8, true, 1);
  std::vector<float> train_logits(80);
  be->download(train_logits.data(), lt, sizeof(float) * 80);
  const float* li = m.forward(dx.data(), 8, false, 1);
  std::vector<float> infer_logits(80);
  be->download(infer_logits.data(), li, sizeof(float) * 80);
  EXPECT_FALSE(testing::close(train_logits, infer_logits, testing::kReduction));
  // The running mean moved 10% of the way to the batch mean (~103.5).
  const auto tensors = m.export_params();
  const NamedTensor* rm = nullptr;
  for (const auto& t : tensors)
    if (t.name == "1.running_mean") rm = &t;
  ASSERT_NE(rm, nullptr);
  EXPECT_NEAR(rm->data[0], 0.1 * (100 + 3.5), 1e-3);
}

TEST(BatchNormLayer, RunningStatisticsTravelWithTheModelFile) {
  testing::TempDir dir;
  auto be = make_cpu_backend(1);
  const NetSpec spec = NetSpec::parse("conv(4,3) batchnorm relu flatten dense(10)");
  Model m(*be, spec, 4);
  m.init(5);
  std::vector<float> x = random_vector(4 * 784, 41, 0.f, 1.f);
  Buffer<float> dx(*be, x.size());
  dx.upload(x);
  for (int i = 0; i < 3; ++i) m.forward(dx.data(), 4, true, uint64_t(i));  // moves the running statistics
  ModelFile f;
  f.metadata[meta::kFormat] = meta::kFormatValue;
  f.metadata[meta::kSpec] = spec.text();
  f.tensors = m.export_params();
  const std::string path = dir.path() + "/bn.safetensors";
  save_model_file(path, f);
  auto loaded = load_model(*be, path, 4);
  const float* a = m.forward(dx.data(), 4, false, 0);
  std::vector<float> want(40), got(40);
  be->download(want.data(), a, sizeof(float) * 40);
  const float* b = loaded->forward(dx.data(), 4, false, 0);
  be->download(got.data(), b, sizeof(float) * 40);
  EXPECT_EQ(got, want);

  // A file without the running statistics, or with a negative variance, is refused by name.
  ModelFile missing = f;
  std::erase_if(missing.tensors, [](const NamedTensor& t) { return t.name == "1.running_var"; });
  save_model_file(path, missing);
  try {
    load_model(*be, path, 4);
    ADD_FAILURE() << "loaded a model without its running variance";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1.running_var"), std::string::npos) << e.what();
  }
  ModelFile negative = f;
  for (auto& t : negative.tensors)
    if (t.name == "1.running_var") t.data[0] = -1.f;
  save_model_file(path, negative);
  EXPECT_THROW(load_model(*be, path, 4), Error);
}

TEST(BatchNormLayer, RecalibrationAveragesTheBatchStatisticsAndLeavesWeightsAlone) {
  auto be = make_cpu_backend(1);
  const NetSpec spec = NetSpec::parse("flatten batchnorm dropout(0.5) dense(10)");
  Model m(*be, spec, 4);
  m.init(7);
  const auto params_before = m.export_params();
  // Two batches of 4 images with known per-pixel means: batch 1 all 1s and 3s, batch 2 all 5s and 7s.
  std::vector<float> b1(4 * 784), b2(4 * 784);
  for (size_t i = 0; i < b1.size(); ++i) b1[i] = (i / 784) % 2 ? 3.f : 1.f, b2[i] = (i / 784) % 2 ? 7.f : 5.f;
  Buffer<float> x1(*be, b1.size()), x2(*be, b2.size());
  x1.upload(b1);
  x2.upload(b2);
  m.recalibrate_batchnorm(x1.data(), 4, 1.f);   // k = 0: the batch's statistics
  m.recalibrate_batchnorm(x2.data(), 4, 0.5f);  // k = 1: the average of both
  const auto after = m.export_params();
  for (const auto& t : after) {
    if (t.name == "1.running_mean") {
      EXPECT_FLOAT_EQ(t.data[5], 4.f);  // (2 + 6) / 2
    } else if (t.name == "1.running_var") {
      EXPECT_FLOAT_EQ(t.data[5], 4.f / 3.f);  // unbiased variance of {1,3,1,3} and of {5,7,5,7}: 4/3 each
    } else {
      for (const auto& b : params_before) {
        if (b.name == t.name) {
          EXPECT_EQ(b.data, t.data) << t.name;
        }
      }
    }
  }
  EXPECT_TRUE(m.has_batchnorm());
  EXPECT_FALSE(Model(*be, NetSpec::parse("flatten dense(10)"), 1).has_batchnorm());
  EXPECT_THROW(m.recalibrate_batchnorm(x1.data(), 4, 0.f), Error);
  EXPECT_THROW(m.backward(x1.data(), 4, 0), Error);  // no backward after a recalibration pass
}

TEST(BatchNormLayer, SpecRoundTripsAndRejectsArguments) {
  EXPECT_EQ(NetSpec::parse("conv(8,3) batchnorm relu flatten dense(10)").text(), "conv(8,3) batchnorm relu flatten dense(10)");
  EXPECT_THROW(NetSpec::parse("flatten batchnorm(3) dense(10)"), Error);
}

}  // namespace
}  // namespace digits
