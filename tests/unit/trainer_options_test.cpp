// What the `best` preset added to training: the learning-rate schedule, the validation hold-out, batch
// norm + augmentation runs that resume bit-identically, and checkpoints from before these options.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend.h"
#include "error.h"
#include "model_file.h"
#include "optimizer.h"
#include "testing/files.h"
#include "testing/synthetic.h"
#include "trainer.h"

namespace digits {
namespace {

TrainOptions bn_options() {
  TrainOptions o;
  o.preset = "custom";
  o.spec = NetSpec::parse("conv(8,3) batchnorm relu maxpool(2) flatten dense(32) batchnorm relu dropout(0.25) dense(10)");
  o.cfg.epochs = 3;
  o.cfg.batch = 32;
  o.cfg.seed = 4;
  o.cfg.optimizer = OptimizerKind::Adam;
  o.cfg.lr = 2e-3f;
  o.cfg.schedule = Schedule::Cosine;
  o.cfg.warmup = 1.f;
  return o;
}

TEST(Schedule, ConstantIsTheLearningRate) {
  TrainConfig c;
  c.lr = 0.5f;
  for (int64_t s : {0, 1, 100, 100000}) EXPECT_EQ(scheduled_lr(c, s, 10), 0.5f);
}

TEST(Schedule, CosineWarmsUpThenDecaysToZero) {
  TrainConfig c;
  c.lr = 1.f;
  c.epochs = 10;
  c.schedule = Schedule::Cosine;
  c.warmup = 2.f;
  const int64_t spe = 100, total = 1000;
  EXPECT_FLOAT_EQ(scheduled_lr(c, 0, spe), 0.1f);    // warm-up starts at lr/10
  EXPECT_FLOAT_EQ(scheduled_lr(c, 100, spe), 0.55f);  // half-way through the warm-up
  EXPECT_FLOAT_EQ(scheduled_lr(c, 200, spe), 1.f);    // the peak
  EXPECT_NEAR(scheduled_lr(c, 600, spe), 0.5f, 1e-6);  // half-way through the decay
  EXPECT_NEAR(scheduled_lr(c, total, spe), 0.f, 1e-7);
  float prev = 2.f;
  for (int64_t s = 200; s <= total; s += 50) {
    const float lr = scheduled_lr(c, s, spe);
    EXPECT_LT(lr, prev) << "step " << s;
    prev = lr;
  }
}

TEST(TrainerValidation, HoldsOutTheLastImagesAndReportsThem) {
  auto be = make_cpu_backend(0);
  const Mnist data = testing::synthetic_mnist(320, 64);
  std::ostringstream log;
  TrainOptions o = bn_options();
  o.cfg.val = 96;
  o.log = &log;
  const TrainResult r = train(*be, data, o);
  ASSERT_EQ(r.epochs.size(), 3u);
  EXPECT_EQ(r.steps, 3 * ((320 - 96 + 31) / 32));  // only the first 224 images are trained on
  for (const auto& e : r.epochs) {
    EXPECT_GE(e.val_accuracy, 0.0);
    EXPECT_LE(e.val_accuracy, 1.0);
    EXPECT_GT(e.val_loss, 0.0);
  }
  EXPECT_GE(r.epochs.back().val_accuracy, 0.8) << log.str();
  EXPECT_NE(log.str().find("96 images held out"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find(" val "), std::string::npos) << log.str();

  o.cfg.val = 320;
  EXPECT_THROW(train(*be, data, o), Error);
}

TEST(TrainerValidation, WithoutHoldOutTheValidationFieldsSayNone) {
  auto be = make_cpu_backend(0);
  const Mnist data = testing::synthetic_mnist(128, 32);
  std::ostringstream log;
  TrainOptions o = bn_options();
  o.cfg.epochs = 1;
  o.log = &log;
  const TrainResult r = train(*be, data, o);
  EXPECT_EQ(r.epochs.at(0).val_accuracy, -1.0);
  EXPECT_EQ(log.str().find(" val "), std::string::npos) << log.str();
}

// What a test of whole runs needs: a CPU backend, the synthetic data, a folder for files, a log.
struct RunFixture {
  std::unique_ptr<Backend> be_ptr = make_cpu_backend(0);
  Backend* be = be_ptr.get();
  const Mnist data = testing::synthetic_mnist(320, 64);
  testing::TempDir dir;
  std::ostringstream log;
};

TEST(TrainerAugment, BatchNormAugmentedCosineRunResumesBitIdentically) {
  RunFixture f;
  auto& [be_ptr, be, data, dir, log] = f;
  TrainOptions full = bn_options();
  full.cfg.augment = true;
  full.cfg.val = 32;
  full.log = &log;
  full.out = dir.file("full.safetensors");
  full.checkpoint = dir.file("full.ckpt.safetensors");
  const TrainResult fr = train(*be, data, full);
  EXPECT_GE(fr.test_accuracy, 0.8) << log.str();
  EXPECT_NE(log.str().find("augmented"), std::string::npos);
  // After augmented training the batch-norm statistics are re-estimated on the clean images.
  EXPECT_TRUE(fr.recalibrated);
  EXPECT_GE(fr.val_accuracy, 0.0);
  EXPECT_NE(log.str().find("batch-norm statistics re-estimated on 288 un-augmented training images"), std::string::npos)
      << log.str();

  TrainOptions part = full;
  part.cfg.epochs = 1;
  part.out.clear();
  part.checkpoint.clear();
  part.checkpoint = dir.file("part.ckpt.safetensors");
  train(*be, data, part);

  TrainOptions rest;  // the checkpoint's spec and config win: nothing else is given
  rest.log = &log;
  rest.resume = part.checkpoint;
  rest.cfg.epochs = 3;
  rest.out = dir.file("resumed.safetensors");
  train(*be, data, rest);

  const ModelFile a = load_model_file(full.out), b = load_model_file(rest.out);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) EXPECT_EQ(a.tensors[i].data, b.tensors[i].data) << a.tensors[i].name;
  // The checkpoint keeps the running statistics of training (so that --resume is exact), the model the
  // re-estimated ones.
  const ModelFile ck = load_model_file(full.checkpoint), fin = load_model_file(full.out);
  EXPECT_NE(ck.find("1.running_mean")->data, fin.find("1.running_mean")->data);
  const auto cfg = nlohmann::json::parse(b.metadata.at(meta::kTrainConfig));
  EXPECT_EQ(cfg.at("schedule"), "cosine");
  EXPECT_EQ(cfg.at("val"), 32);
  EXPECT_FLOAT_EQ(cfg.at("augment").at("rotate_deg").get<float>(), kDefaultAugment.rotate_deg);
}

TEST(TrainerAugment, AugmentationChangesTheRun) {
  auto be = make_cpu_backend(0);
  const Mnist data = testing::synthetic_mnist(128, 32);
  std::ostringstream log;
  TrainOptions o = bn_options();
  o.cfg.epochs = 1;
  o.log = &log;
  const TrainResult plain = train(*be, data, o);
  o.cfg.augment = true;
  const TrainResult aug = train(*be, data, o);
  EXPECT_NE(plain.epochs.at(0).train_loss, aug.epochs.at(0).train_loss);
}

TEST(TrainerResume, MaxStepsIsKeptInCheckpointsAndResumedUnlessOverridden) {
  RunFixture f;
  auto& [be_ptr, be, data, dir, log] = f;
  TrainOptions o = bn_options();
  o.cfg.epochs = 1;
  o.cfg.max_steps_per_epoch = 3;
  o.log = &log;
  o.checkpoint = dir.file("m.ckpt.safetensors");
  o.out = dir.file("m.safetensors");
  EXPECT_EQ(train(*be, data, o).steps, 3);
  const auto ck = nlohmann::json::parse(load_model_file(o.checkpoint).metadata.at(meta::kTrainConfig));
  EXPECT_EQ(ck.at("max_steps_per_epoch"), 3);
  // The model records the recipe, not the smoke run's shortening.
  EXPECT_EQ(load_model_file(o.out).metadata.at(meta::kTrainConfig).find("max_steps"), std::string::npos);

  TrainOptions rest;  // no --max-steps: the checkpoint's 3 steps per epoch
  rest.log = &log;
  rest.resume = o.checkpoint;
  rest.cfg.epochs = 2;
  rest.checkpoint = dir.file("rest.ckpt.safetensors");
  EXPECT_EQ(train(*be, data, rest).steps, 6);
  rest.resume = rest.checkpoint;  // --max-steps 5 overrides it
  rest.checkpoint = dir.file("more.ckpt.safetensors");
  rest.cfg.epochs = 3;
  rest.cfg.max_steps_per_epoch = 5;
  EXPECT_EQ(train(*be, data, rest).steps, 11);
  EXPECT_NE(load_model_file(rest.checkpoint).metadata.at(meta::kTrainConfig).find(R"("max_steps_per_epoch":5)"),
            std::string::npos);
}

TEST(TrainerResume, CheckpointsFromBeforeTheScheduleOptionsStillResume) {
  auto be = make_cpu_backend(0);
  const Mnist data = testing::synthetic_mnist(128, 32);
  testing::TempDir dir;
  std::ostringstream log;
  TrainOptions o;
  o.preset = "custom";
  o.spec = NetSpec::parse("conv(4,5) relu maxpool(2) flatten dense(10)");
  o.cfg.epochs = 1;
  o.cfg.batch = 32;
  o.log = &log;
  o.checkpoint = dir.file("old.ckpt.safetensors");
  train(*be, data, o);
  // Rewrite its config as the first releases wrote it (no schedule, warmup, val or augment keys).
  ModelFile f = load_model_file(o.checkpoint);
  f.metadata[meta::kTrainConfig] = R"({"epochs":1,"batch":32,"optimizer":"adadelta","lr":1.0,"momentum":0.9,"seed":1})";
  save_model_file(o.checkpoint, f);
  TrainOptions rest;
  rest.log = &log;
  rest.resume = o.checkpoint;
  rest.cfg.epochs = 2;
  const TrainResult r = train(*be, data, rest);
  EXPECT_EQ(r.epochs.size(), 1u);
  // A bad schedule in a checkpoint is named.
  f.metadata[meta::kTrainConfig] =
      R"({"epochs":1,"batch":32,"optimizer":"adadelta","lr":1.0,"momentum":0.9,"seed":1,"schedule":"zigzag"})";
  save_model_file(o.checkpoint, f);
  try {
    train(*be, data, rest);
    ADD_FAILURE() << "resumed with an unknown schedule";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("zigzag"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace digits
