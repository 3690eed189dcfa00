// Batch normalization: the reference by hand, thread-count independence, and the batchnorm layer inside a model (train vs inference
// mode, running statistics saved and loaded). The CPU-vs-reference shapes and the gradient checks are the
// op harness's (op_harness_test.cpp).
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
