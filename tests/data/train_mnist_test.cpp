// Short real trainings on MNIST (label `data`): one epoch of the seed network must reach 97%, and the CLI's
// train -> eval -> predict chain works end to end on a few steps.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend.h"
#include "image_io.h"
#include "model_file.h"
#include "testing/mnist_fixture.h"
#include "testing/run_cli.h"
#include "trainer.h"

namespace digits {
namespace {

namespace fs = std::filesystem;

TEST(TrainMnist, OneSeedEpochReaches97Percent) {
  DIGITS_REQUIRE_MNIST(mnist);
  auto be = make_cpu_backend(0);
  TrainOptions o;
  o.preset = "seed";
  o.spec = NetSpec::parse(find_preset("seed").spec);
  o.cfg = find_preset("seed").train;
  o.cfg.epochs = 1;
  std::ostringstream log;
  o.log = &log;
  const TrainResult r = train(*be, *mnist, o);
  EXPECT_GE(r.test_accuracy, 0.97) << log.str();
  std::cout << log.str();
}

TEST(TrainMnist, CliTrainEvalPredictChain) {
  DIGITS_REQUIRE_MNIST(mnist);
  const fs::path dir = fs::path(::testing::TempDir()) / "digits_cli_chain";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string model = (dir / "m.safetensors").string();
  auto r = testing::run_digits("train --device cpu --preset seed --epochs 2 --max-steps 40 --progress plain --out " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("epoch 2/2"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "m.ckpt.safetensors"));
  const ModelFile f = load_model_file(model);
  EXPECT_EQ(f.metadata.at("preset"), "seed");
  EXPECT_EQ(f.metadata.at("dataset_crc32"), std::to_string(mnist->crc32));
  EXPECT_EQ(f.find("optim.accum_grad"), nullptr);  // the final model carries no optimizer state

  r = testing::run_digits("eval --device cpu --json --model " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"confusion\""), std::string::npos) << r.output;

  // Resume the finished 2-epoch run for one more epoch.
  r = testing::run_digits("train --device cpu --epochs 3 --max-steps 40 --progress plain --resume " +
                          (dir / "m.ckpt.safetensors").string() + " --out " + (dir / "m3.safetensors").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resuming"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("epoch 3/3"), std::string::npos) << r.output;

  // A test digit written as PNG is read back through the preprocessing.
  GrayImage img{28, 28, std::vector<uint8_t>(mnist->test.images.begin(), mnist->test.images.begin() + 784)};
  save_png((dir / "d.png").string(), img);
  r = testing::run_digits("predict --device cpu --json --model " + model + " " + (dir / "d.png").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"digits\""), std::string::npos) << r.output;
}

// `train --json` names the network and recipe it ran (bench/compare_peers.py builds the peers from them).
TEST(TrainMnist, CliJsonNamesTheRunsNetworkAndRecipe) {
  DIGITS_REQUIRE_MNIST(mnist);
  const fs::path dir = fs::path(::testing::TempDir()) / "digits_cli_json";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto r = testing::run_digits("train --device cpu --preset fast --max-steps 3 --json --progress plain --checkpoint none "
                               "--out " + (dir / "f.safetensors").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const size_t at = r.output.rfind("\n{");
  ASSERT_NE(at, std::string::npos) << r.output;
  const auto j = nlohmann::json::parse(r.output.substr(at + 1));
  EXPECT_EQ(j.at("spec"), NetSpec::parse(find_preset("fast").spec).text());
  EXPECT_EQ(j.at("train_config").at("optimizer"), "adam");
  EXPECT_EQ(j.at("train_config").at("epochs"), 1);
  EXPECT_EQ(j.at("train_config").at("max_steps_per_epoch"), 3);
  EXPECT_GT(j.at("test_accuracy").get<double>(), 0.1);
}

TEST(TrainMnist, CliBestPresetAndAugmentFlags) {
  DIGITS_REQUIRE_MNIST(mnist);
  const fs::path dir = fs::path(::testing::TempDir()) / "digits_cli_best";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string model = (dir / "best.safetensors").string();
  // The best preset: batch norm, augmentation, cosine schedule, a validation hold-out (here 1000 images).
  auto r = testing::run_digits("train --device cpu --preset best --epochs 1 --max-steps 30 --val 1000 --progress plain "
                               "--checkpoint none --out " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("augmented"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(cosine)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1000 images held out for validation"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" val "), std::string::npos) << r.output;
  const ModelFile f = load_model_file(model);
  EXPECT_NE(f.find("1.running_var"), nullptr);
  EXPECT_NE(f.metadata.at("train_config").find("\"augment\":{"), std::string::npos) << f.metadata.at("train_config");
  r = testing::run_digits("eval --device cpu --json --model " + model);
  ASSERT_EQ(r.status, 0) << r.output;

  // --no-augment and --augment override the preset either way.
  r = testing::run_digits("train --device cpu --preset best --no-augment --epochs 1 --max-steps 2 --progress plain "
                          "--checkpoint none --out " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("augmented"), std::string::npos) << r.output;
  r = testing::run_digits("train --device cpu --preset seed --augment --epochs 1 --max-steps 2 --progress plain "
                          "--checkpoint none --out " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("augmented"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("held out"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace digits
