// TrainConfig: the JSON stored in model files (round trip, the exact text old files hold, files from before
// newer keys), the optimizer and schedule names, and validate()'s messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "error.h"
#include "train_config.h"

namespace digits {
namespace {

// The message of the digits::Error `f` throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR_HAS(expr, text) EXPECT_NE(error_of([&] { expr; }).find(text), std::string::npos) << error_of([&] { expr; })

TrainConfig unusual_config() {
  TrainConfig c;
  c.epochs = 7;
  c.batch = 33;
  c.optimizer = OptimizerKind::Sgd;
  c.lr = 0.037f;
  c.momentum = 0.5f;
  c.seed = 12345678901234ull;
  c.schedule = Schedule::Cosine;
  c.warmup = 1.5f;
  c.augment = true;
  c.augment_params = {10.f, 0.1f, 0.2f, 3.f, 1.f};
  c.val = 500;
  c.max_steps_per_epoch = 9;
  return c;
}

TEST(TrainConfigJson, RoundTripKeepsEveryField) {
  const TrainConfig c = unusual_config();
  const TrainConfig r = TrainConfig::from_json(c.to_json(), "x");
  EXPECT_EQ(r.epochs, c.epochs);
  EXPECT_EQ(r.batch, c.batch);
  EXPECT_EQ(r.optimizer, c.optimizer);
  EXPECT_EQ(r.lr, c.lr);
  EXPECT_EQ(r.momentum, c.momentum);
  EXPECT_EQ(r.seed, c.seed);
  EXPECT_EQ(r.schedule, c.schedule);
  EXPECT_EQ(r.warmup, c.warmup);
  EXPECT_EQ(r.augment, c.augment);
  EXPECT_EQ(r.augment_params.rotate_deg, c.augment_params.rotate_deg);
  EXPECT_EQ(r.augment_params.zoom, c.augment_params.zoom);
  EXPECT_EQ(r.augment_params.shear, c.augment_params.shear);
  EXPECT_EQ(r.augment_params.translate, c.augment_params.translate);
  EXPECT_EQ(r.augment_params.elastic, c.augment_params.elastic);
  EXPECT_EQ(r.val, c.val);
  EXPECT_EQ(r.max_steps_per_epoch, c.max_steps_per_epoch);
  EXPECT_EQ(r.to_json(), c.to_json());
}

TEST(TrainConfigJson, TextIsWhatEveryModelFileHolds) {
  // Written by the releases before the enums; the bundled models and old checkpoints hold this text.
  EXPECT_EQ(TrainConfig{}.to_json(),
            R"({"augment":null,"batch":128,"epochs":10,"lr":1.0,"momentum":0.8999999761581421,"optimizer":"adadelta",)"
            R"("schedule":"constant","seed":1,"val":0,"warmup":0.0})");
  const TrainConfig best = find_preset("best").train;
  EXPECT_EQ(best.to_json(),
            R"({"augment":{"elastic":1.2000000476837158,"rotate_deg":12.0,"shear":0.15000000596046448,"translate":2.5,)"
            R"("zoom":0.11999999731779099},"batch":128,"epochs":20,"lr":0.0020000000949949026,)"
            R"("momentum":0.8999999761581421,"optimizer":"adam","schedule":"cosine","seed":1,"val":0,"warmup":1.0})");
}

TEST(TrainConfigJson, MaxStepsIsWrittenOnlyWhenSet) {
  TrainConfig c;
  EXPECT_EQ(c.to_json().find("max_steps"), std::string::npos);
  c.max_steps_per_epoch = 60;
  EXPECT_NE(c.to_json().find(R"("max_steps_per_epoch":60)"), std::string::npos) << c.to_json();
}

TEST(TrainConfigJson, FirstReleaseTextWithoutNewerKeysParses) {
  const TrainConfig c = TrainConfig::from_json(
      R"({"epochs":3,"batch":32,"optimizer":"sgd","lr":0.5,"momentum":0.8,"seed":4})", "old.safetensors");
  EXPECT_EQ(c.epochs, 3);
  EXPECT_EQ(c.batch, 32);
  EXPECT_EQ(c.optimizer, OptimizerKind::Sgd);
  EXPECT_EQ(c.lr, 0.5f);
  EXPECT_EQ(c.momentum, 0.8f);
  EXPECT_EQ(c.seed, 4u);
  EXPECT_EQ(c.schedule, Schedule::Constant);
  EXPECT_EQ(c.warmup, 0.f);
  EXPECT_FALSE(c.augment);
  EXPECT_EQ(c.val, 0);
  EXPECT_EQ(c.max_steps_per_epoch, 0);
}

TEST(TrainConfigJson, BadTextNamesTheFileAndTheProblem) {
  EXPECT_ERROR_HAS(TrainConfig::from_json("{", "f.safetensors"), "f.safetensors: bad train_config in metadata");
  EXPECT_ERROR_HAS(TrainConfig::from_json(R"({"epochs":1,"batch":8,"optimizer":"rmsprop","lr":1,"momentum":0,"seed":1})", "f"),
                   "unknown optimizer 'rmsprop'");
  EXPECT_ERROR_HAS(TrainConfig::from_json(R"({"epochs":1,"batch":0,"optimizer":"sgd","lr":1,"momentum":0,"seed":1})", "f"),
                   "f: bad train_config in metadata: batch must be in 1..65536, got 0");
  EXPECT_ERROR_HAS(TrainConfig::from_json(R"({"epochs":1e300,"batch":8,"optimizer":"sgd","lr":1,"momentum":0,"seed":1})", "f"),
                   "epochs is 1e+300, outside the valid range");
}

TEST(TrainConfigNames, RoundTripAndListTheValidNames) {
  for (const std::string& n : optimizer_names()) EXPECT_EQ(to_string(parse_optimizer(n)), n);
  for (const std::string& n : schedule_names()) EXPECT_EQ(to_string(parse_schedule(n)), n);
  EXPECT_EQ(optimizer_names(), (std::vector<std::string>{"adadelta", "sgd", "adam"}));
  EXPECT_EQ(error_of([] { parse_optimizer("Adam"); }), "unknown optimizer 'Adam': use adadelta, sgd or adam");
  EXPECT_EQ(error_of([] { parse_schedule("triangle"); }), "unknown learning-rate schedule 'triangle': use constant or cosine");
  EXPECT_EQ(default_lr(OptimizerKind::Adadelta), 1.0f);
  EXPECT_EQ(default_lr(OptimizerKind::Sgd), 0.01f);
  EXPECT_EQ(default_lr(OptimizerKind::Adam), 1e-3f);
}

TEST(TrainConfigValidate, PresetsAreValid) {
  for (const Preset& p : presets()) EXPECT_NO_THROW(p.train.validate()) << p.name;
  EXPECT_NO_THROW(unusual_config().validate());
}

TEST(TrainConfigValidate, NamesTheSettingAndItsRange) {
  auto with = [](auto change) {
    TrainConfig c;
    change(c);
    return error_of([&] { c.validate(); });
  };
  EXPECT_EQ(with([](TrainConfig& c) { c.epochs = 0; }), "epochs must be positive, got 0");
  EXPECT_EQ(with([](TrainConfig& c) { c.batch = 65537; }), "batch must be in 1..65536, got 65537");
  EXPECT_EQ(with([](TrainConfig& c) { c.lr = 0; }), "learning rate must be positive, got 0");
  EXPECT_EQ(with([](TrainConfig& c) { c.lr = std::numeric_limits<float>::infinity(); }),
            "learning rate must be positive, got inf");
  EXPECT_EQ(with([](TrainConfig& c) { c.momentum = 1.5f; }), "momentum must be in 0..1, got 1.5");
  EXPECT_EQ(with([](TrainConfig& c) { c.warmup = -1; }), "warm-up must be 0 or more epochs, got -1");
  EXPECT_EQ(with([](TrainConfig& c) { c.val = -2; }), "--val must be 0 or more images to hold out, got -2");
  EXPECT_EQ(with([](TrainConfig& c) { c.max_steps_per_epoch = -1; }),
            "--max-steps must be positive (0: whole epochs), got -1");
  EXPECT_EQ(with([](TrainConfig& c) { c.augment = true, c.augment_params.zoom = 2; }),
            "augmentation zoom must be in 0..0.9, got 2");
  EXPECT_EQ(with([](TrainConfig& c) { c.augment_params.zoom = 2; }), "");  // not used without augment
}

}  // namespace
}  // namespace digits
