// The `digits` command without MNIST: info, clear errors and non-zero exits for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "backend.h"
#include "model.h"
#include "model_file.h"
#include "testing/run_cli.h"

namespace digits {
namespace {

using testing::run_digits;

TEST(Cli, InfoPrintsBuildAndDevices) {
  const auto r = run_digits("info");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("cpu backend: CPU"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cuda backend:"), std::string::npos) << r.output;
}

TEST(Cli, MissingDataSaysHowToGetIt) {
  const auto r = run_digits("train --data /nonexistent/mnist --epochs 1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/mnist"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fetch_mnist.sh"), std::string::npos) << r.output;
}

TEST(Cli, BadFlagsAndPresetsFail) {
  EXPECT_NE(run_digits("train --preset nope --data /x").status, 0);
  EXPECT_NE(run_digits("train --device tpu").status, 0);
  EXPECT_NE(run_digits("frobnicate").status, 0);
  EXPECT_NE(run_digits("").status, 0);
}

TEST(Cli, PredictRejectsANonImageAndAMissingModel) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "digits_cli_test";
  std::filesystem::create_directories(dir);
  const auto txt = dir / "note.png";
  std::ofstream(txt) << "this is not an image\n";
  auto be = make_cpu_backend(1);
  Model m(*be, NetSpec::parse("conv(2,3) relu maxpool(2) flatten dense(10)"), 1);
  m.init(1);
  ModelFile f;
  f.metadata[meta::kSpec] = m.spec().text();
  f.tensors = m.export_params();
  const std::string model = (dir / "tiny.safetensors").string();
  save_model_file(model, f);
  auto r = run_digits("predict --device cpu --model " + model + " " + txt.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("note.png"), std::string::npos) << r.output;
  r = run_digits("predict --device cpu --model " + (dir / "missing.safetensors").string() + " " + txt.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("missing.safetensors"), std::string::npos) << r.output;
}

TEST(Cli, PredictReadsAPhotographedRowOnLinedPaper) {
  // Made by scripts/photo_digits.py (tests/fixtures/README.md): 2024 on ruled paper with a margin line
  // through the first 2, light falling off across the sheet, JPEG. Read left to right with the bundled model.
  const std::string dir = std::string(DIGITS_TESTS_DIR);
  const auto r = run_digits("predict --device cpu --threads 1 --json --model " + dir +
                            "/../data/models/default.safetensors " + dir + "/fixtures/photo_2024_ruled.jpg");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"digits\":\"2024\""), std::string::npos) << r.output;
}

TEST(Cli, ExplicitCudaWithoutADeviceIsAnError) {
  if (select_backend(BackendOptions{DevicePref::Auto, 1}).backend->kind() == DeviceKind::Cuda) GTEST_SKIP() << "a CUDA device is present";
  const auto r = run_digits("train --device cuda --data /nonexistent --epochs 1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("CUDA"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace digits
