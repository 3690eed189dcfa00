// Network specs, presets, layer shape checks, parameter export/import and the Predictor's plumbing.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "backend.h"
#include "error.h"
#include "model.h"
#include "model_file.h"
#include "predictor.h"
#include "train_config.h"
#include "testing/compare.h"

namespace digits {
namespace {

TEST(NetSpec, ParsesAndPrintsPresets) {
  for (const auto& p : presets()) {
    const NetSpec s = NetSpec::parse(p.spec);
    EXPECT_EQ(s.text(), p.spec) << p.name;
    EXPECT_EQ(NetSpec::parse(s.text()).text(), s.text());
  }
  const NetSpec s = NetSpec::parse("conv(8,3,same) relu maxpool(2) flatten dropout(0.25) dense(10)");
  ASSERT_EQ(s.layers.size(), 6u);
  EXPECT_TRUE(s.layers[0].same);
  EXPECT_FLOAT_EQ(s.layers[4].rate, 0.25f);
}

TEST(NetSpec, RejectsBadTokensWithTheirName) {
  for (const char* bad : {"conv(32) dense(10)", "conv(0,3) flatten dense(10)", "conv(3,3,full) flatten dense(10)",
                          "softmax dense(10)", "dense(10", "dropout(1.5) dense(10)", "relu", "", "dense(x)"}) {
    try {
      NetSpec::parse(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_FALSE(std::string(e.what()).empty());
    }
  }
}

TEST(Model, PresetParameterCountsMatchKeras) {
  auto be = make_cpu_backend(1);
  // Keras model.summary(): seed 233,162 trainable parameters; keras example 1,199,882.
  EXPECT_EQ(Model(*be, NetSpec::parse(find_preset("seed").spec), 2).param_count(), 233162u);
  EXPECT_EQ(Model(*be, NetSpec::parse(find_preset("keras").spec), 2).param_count(), 1199882u);
  EXPECT_THROW(find_preset("nope"), Error);
}

TEST(Model, RejectsShapesThatDoNotFit) {
  auto be = make_cpu_backend(1);
  EXPECT_THROW(Model(*be, NetSpec::parse("conv(4,29) flatten dense(10)"), 1), Error);
  EXPECT_THROW(Model(*be, NetSpec::parse("conv(4,3) dense(10)"), 1), Error);  // dense needs flatten
  EXPECT_THROW(Model(*be, NetSpec::parse("flatten dense(10) maxpool(2) dense(10)"), 1), Error);
}

TEST(Model, GlorotInitWithinLimitsAndZeroBias) {
  auto be = make_cpu_backend(1);
  Model m(*be, NetSpec::parse(find_preset("seed").spec), 1);
  m.init(3);
  for (const auto& t : m.export_params()) {
    float maxabs = 0;
    for (float v : t.data) maxabs = std::max(maxabs, std::fabs(v));
    if (t.name.find("bias") != std::string::npos) {
      EXPECT_EQ(maxabs, 0.f) << t.name;
    } else {
      const int64_t rf = t.shape.size() == 4 ? t.shape[2] * t.shape[3] : 1;
      const double limit = std::sqrt(6.0 / double(t.shape[0] * rf + t.shape[1] * rf));
      EXPECT_LE(maxabs, limit) << t.name;
      EXPECT_GT(maxabs, 0.9 * limit) << t.name;
    }
  }
  // Same seed, same weights; other seed, other weights.
  Model m2(*be, NetSpec::parse(find_preset("seed").spec), 1);
  m2.init(3);
  EXPECT_EQ(m.export_params()[0].data, m2.export_params()[0].data);
  m2.init(4);
  EXPECT_NE(m.export_params()[0].data, m2.export_params()[0].data);
}

TEST(Model, ExportImportRoundTripAndStrictNames) {
  auto be = make_cpu_backend(1);
  const NetSpec spec = NetSpec::parse("conv(4,3) relu maxpool(2) flatten dense(10)");
  Model a(*be, spec, 2), b(*be, spec, 2);
  a.init(1);
  ModelFile f;
  f.tensors = a.export_params();
  ASSERT_EQ(f.tensors.size(), 4u);
  EXPECT_EQ(f.tensors[0].name, "0.weight");  // nn.Sequential indices
  EXPECT_EQ(f.tensors[2].name, "4.weight");
  EXPECT_EQ(f.tensors[2].shape, (std::vector<int64_t>{10, 4 * 13 * 13}));
  b.import_params(f, "mem");
  EXPECT_EQ(a.export_params()[2].data, b.export_params()[2].data);
  f.tensors[2].shape = {10, 5};
  EXPECT_THROW(b.import_params(f, "mem"), Error);
  f.tensors.pop_back();
  EXPECT_THROW(b.import_params(f, "mem"), Error);
}

TEST(Predictor, LoadsAFileAndReturnsProbabilities) {
  auto be = make_cpu_backend(1);
  const auto dir = std::filesystem::path(::testing::TempDir()) / "digits_predictor_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.safetensors").string();
  const NetSpec spec = NetSpec::parse("conv(4,3) relu maxpool(2) flatten dense(10)");
  Model m(*be, spec, 4);
  m.init(5);
  ModelFile f;
  f.metadata[meta::kSpec] = spec.text();
  f.metadata[meta::kPreset] = "custom";
  f.tensors = m.export_params();
  save_model_file(path, f);

  Predictor p(*be, path);
  std::vector<DigitInput> in(3);
  for (size_t i = 0; i < in.size(); ++i)
    for (size_t k = 0; k < in[i].pixels.size(); ++k) in[i].pixels[k] = float((k * (i + 3)) % 7) / 7.f;
  const auto probs = p.classify(in);
  ASSERT_EQ(probs.size(), 3u);
  for (const auto& pr : probs) {
    double s = 0;
    for (float v : pr) {
      s += v;
      EXPECT_GE(v, 0.f);
    }
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
  EXPECT_NE(probs[0], probs[1]);
  // A blank canvas is "no digit", never a guess.
  GrayImage blank{64, 64, std::vector<uint8_t>(64 * 64, 255)};
  const Prediction none = p.predict(blank);
  EXPECT_TRUE(none.empty);
  EXPECT_TRUE(none.digits.empty());

  f.metadata[meta::kSpec] = "conv(4,3) relu flatten dense(10)";  // spec no longer matches the tensors
  save_model_file(path, f);
  EXPECT_THROW(Predictor(*be, path), Error);
  f.metadata.erase(meta::kSpec);
  save_model_file(path, f);
  EXPECT_THROW(Predictor(*be, path), Error);
}

TEST(BackendSelect, CpuAlwaysWorksAndCudaIsExplicit) {
  BackendChoice c = select_backend(DevicePref::Cpu, 1);
  ASSERT_TRUE(c.backend);
  EXPECT_EQ(c.backend->kind(), DeviceKind::Cpu);
  EXPECT_FALSE(c.reason.empty());
  BackendChoice a = select_backend(DevicePref::Auto, 1);
  ASSERT_TRUE(a.backend);
  EXPECT_NE(a.reason.find(a.backend->kind() == DeviceKind::Cpu ? "CPU" : "CUDA"), std::string::npos) << a.reason;
  if (a.backend->kind() == DeviceKind::Cpu) {
    EXPECT_THROW(select_backend(DevicePref::Cuda, 1), Error);
  }
  EXPECT_THROW(parse_device_pref("tpu"), Error);
  EXPECT_EQ(parse_device_pref("cuda"), DevicePref::Cuda);
}

}  // namespace
}  // namespace digits
