// The training loop on a synthetic data set: learning happens, runs are deterministic, checkpoints resume
// bit-identically, bad outputs and NaN losses are reported.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "backend.h"
#include "error.h"
#include "model_file.h"
#include "testing/synthetic.h"
#include "trainer.h"

namespace digits {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::path(::testing::TempDir()) / ("digits_trainer_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

TrainOptions small_options() {
  TrainOptions o;
  o.preset = "custom";
  o.spec = NetSpec::parse("conv(8,5) relu maxpool(2) flatten dense(32) relu dropout(0.25) dense(10)");
  o.cfg.epochs = 3;
  o.cfg.batch = 32;
  o.cfg.seed = 9;
  return o;
}

TEST(Trainer, EpochPermutationIsAPermutationAndDeterministic) {
  const auto a = epoch_permutation(1000, 5, 1), b = epoch_permutation(1000, 5, 1), c = epoch_permutation(1000, 5, 2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::set<int32_t> s(a.begin(), a.end());
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(*s.begin(), 0);
  EXPECT_EQ(*s.rbegin(), 999);
}

TEST(Trainer, LearnsTheSyntheticSet) {
  auto be = make_cpu_backend(0);
  const Mnist data = testing::synthetic_mnist();
  std::ostringstream log;
  TrainOptions o = small_options();
  o.log = &log;
  const TrainResult r = train(*be, data, o);
  ASSERT_EQ(r.epochs.size(), 3u);
  EXPECT_LT(r.epochs.back().train_loss, r.epochs.front().train_loss);
  EXPECT_GE(r.test_accuracy, 0.9) << log.str();
  EXPECT_EQ(r.steps, 3 * 20);
  EXPECT_NE(log.str().find("epoch 3/3"), std::string::npos) << log.str();
}

TEST(Trainer, EveryOptimizerLowersTheLoss) {
  auto be = make_cpu_backend(0);
  const Mnist data = testing::synthetic_mnist(320, 64);
  for (const char* name : {"adadelta", "sgd", "adam"}) {
    std::ostringstream log;
    TrainOptions o = small_options();
    o.log = &log;
    o.cfg.optimizer = parse_optimizer(name);
    o.cfg.lr = o.cfg.optimizer == OptimizerKind::Sgd ? 0.05f : default_lr(o.cfg.optimizer);
    o.cfg.epochs = 2;
    const TrainResult r = train(*be, data, o);
    EXPECT_LT(r.epochs.back().train_loss, 0.8 * std::log(10.0)) << name << "\n" << log.str();
  }
}

TEST(Trainer, ResumeFromACheckpointGivesBitIdenticalWeights) {
  auto be = make_cpu_backend(0);
  const Mnist data = testing::synthetic_mnist(320, 64);
  const fs::path dir = temp_dir("resume");
  std::ostringstream log;

  TrainOptions full = small_options();
  full.log = &log;
  full.out = (dir / "full.safetensors").string();
  train(*be, data, full);

  TrainOptions part = small_options();
  part.log = &log;
  part.cfg.epochs = 1;
  part.checkpoint = (dir / "part.ckpt.safetensors").string();
  train(*be, data, part);

  TrainOptions rest = small_options();
  rest.log = &log;
  rest.resume = part.checkpoint;
  rest.cfg.epochs = 3;
  rest.out = (dir / "resumed.safetensors").string();
  const TrainResult r = train(*be, data, rest);
  EXPECT_EQ(r.epochs.size(), 2u);

  const ModelFile a = load_model_file(full.out), b = load_model_file(rest.out);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) EXPECT_EQ(a.tensors[i].data, b.tensors[i].data) << a.tensors[i].name;
  EXPECT_EQ(a.metadata.at("step"), b.metadata.at("step"));
}

TEST(Trainer, UnwritableOutputIsReportedBeforeTraining) {
  auto be = make_cpu_backend(0);
  const Mnist data = testing::synthetic_mnist(64, 16);
  TrainOptions o = small_options();
  std::ostringstream log;
  o.log = &log;
  o.out = "/nonexistent-dir/x.safetensors";
  try {
    train(*be, data, o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir"), std::string::npos) << e.what();
  }
  EXPECT_EQ(log.str().find("epoch 1"), std::string::npos);  // nothing trained
}

TEST(Trainer, NanLossStopsWithStepAndLastCheckpoint) {
  auto be = make_cpu_backend(0);
  const Mnist data = testing::synthetic_mnist(320, 64);
  const fs::path dir = temp_dir("nan");
  TrainOptions o = small_options();
  std::ostringstream log;
  o.log = &log;
  o.cfg.optimizer = OptimizerKind::Sgd;
  o.cfg.lr = 1e30f;  // diverges at once
  o.checkpoint = (dir / "c.ckpt.safetensors").string();
  try {
    train(*be, data, o);
    FAIL() << "diverging run was not stopped";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("loss became"), std::string::npos) << m;
    EXPECT_NE(m.find("last good checkpoint"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace digits
