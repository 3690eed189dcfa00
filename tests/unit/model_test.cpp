// Network specs, presets, layer shape checks, parameter export/import and the Predictor's plumbing.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "backend.h"
#include "error.h"
#include "host_backend.h"
#include "model.h"
#include "model_file.h"
#include "predictor.h"
#include "train_config.h"
#include "testing/compare.h"
#include "testing/error_of.h"

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

// Every parse error keeps its wording: the messages come from the table of layer kinds in layers.cpp.
TEST(NetSpec, ParseErrorsNameTheTokenAndListTheKinds) {
  auto message = [](const std::string& text) { return testing::error_of([&] { NetSpec::parse(text); }); };
  // The list grows with the table: the kinds known when this was written come first, in this order.
  EXPECT_EQ(message("softmax dense(10)").rfind(
                "unknown layer 'softmax' in spec: use conv(K,R[,same]) relu maxpool(S) flatten dense(N) dropout(rate) "
                "batchnorm",
                0),
            0u);
  EXPECT_EQ(message("conv(32) dense(10)"), "spec token 'conv(32)': expected 2 to 3 arguments");
  EXPECT_EQ(message("relu(1) dense(10)"), "spec token 'relu(1)': expected 0 arguments");
  EXPECT_EQ(message("maxpool(2,2) dense(10)"), "spec token 'maxpool(2,2)': expected 1 arguments");
  EXPECT_EQ(message("conv(0,3) flatten dense(10)"), "spec token 'conv(0,3)': '0' is not a positive integer");
  EXPECT_EQ(message("conv(3,3,full) flatten dense(10)"), "spec token 'conv(3,3,full)': padding must be same or valid");
  EXPECT_EQ(message("dropout(1.5) dense(10)"), "spec token 'dropout(1.5)': rate must be in [0, 1)");
  EXPECT_EQ(message("dense(10"), "spec token 'dense(10' lacks its closing ')'");
  EXPECT_EQ(message("dense(x)"), "spec token 'dense(x)': 'x' is not a positive integer");
  EXPECT_EQ(message(""), "empty network spec");
  EXPECT_EQ(message("relu"), "a network spec must end with dense(classes): 'relu'");
  EXPECT_EQ(NetSpec::parse("conv(8,3,same) conv(4,5,valid) batchnorm relu maxpool(3) flatten dropout(0.125) dense(7)").text(),
            "conv(8,3,same) conv(4,5) batchnorm relu maxpool(3) flatten dropout(0.125) dense(7)");
}

TEST(NetLayout, BindsEveryTensorOnceInFileOrderWithoutAllocating) {
  const NetSpec spec = NetSpec::parse("conv(4,3) batchnorm relu maxpool(2) flatten dense(10)");
  const NetLayout l = NetLayout::plan(spec);
  std::vector<std::string> names;
  for (const auto& t : l.tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                             "1.running_var", "5.weight", "5.bias"}));
  // Parameters and state each fill their flat buffer without gaps or overlaps, in order.
  size_t params = 0, state = 0;
  for (const auto& t : l.tensors) {
    size_t& next = t.trainable ? params : state;
    EXPECT_EQ(t.offset, next) << t.name;
    next += t.size;
  }
  EXPECT_EQ(params, l.param_count);
  EXPECT_EQ(state, l.state_count);
  EXPECT_EQ(l.tensors[6].shape, (std::vector<int64_t>{10, 4 * 13 * 13}));
  EXPECT_FALSE(l.tensors[4].trainable);
  auto be = make_cpu_backend(1);
  const Model m(*be, spec, 2);
  ASSERT_EQ(m.tensors().size(), l.tensors.size());
  EXPECT_EQ(m.param_count(), l.param_count);
  // 2^64 weights: planned (sizes saturate, nothing allocated), refused by the limits.
  const NetSpec huge = NetSpec::parse("conv(65536,1) conv(65536,65536,same) maxpool(27) flatten dense(10)");
  const NetLayout h = NetLayout::plan(huge);
  EXPECT_EQ(h.tensors[2].size, SIZE_MAX);
  const std::string msg = testing::error_of([&] { h.check_limits(huge, "f: "); });
  EXPECT_EQ(msg.rfind("f: network spec", 0), 0u) << msg;
  EXPECT_NE(msg.find("parameters (the limit)"), std::string::npos) << msg;
}

// "relu maxpool" runs as "maxpool relu" (NetLayout::plan). The two orders must agree bit for bit, logits
// and gradients, also where whole pooling windows are negative (the biases push every other map down).
TEST(NetLayout, ReluBeforeMaxpoolRunsAfterItWithIdenticalResults) {
  const NetSpec spec = NetSpec::parse("conv(6,3) relu maxpool(2) conv(5,3) relu maxpool(3) flatten dense(10)");
  const NetLayout l = NetLayout::plan(spec);
  std::vector<std::string> kinds;
  for (const auto& layer : l.layers) kinds.push_back(layer->spec().kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"conv", "maxpool", "relu", "conv", "maxpool", "relu", "flatten", "dense"}));
  EXPECT_EQ(l.tensors[2].name, "3.weight");  // names keep the spec's indices

  for (const char* device : {"reference", "cpu"}) {
    SCOPED_TRACE(device);
    auto be = std::string(device) == "cpu" ? make_cpu_backend(2) : make_reference_backend();
    const int N = 3;
    Model run(*be, spec, N);
    run.init(7);
    ModelFile f;
    f.tensors = run.export_params();
    for (auto& t : f.tensors)
      if (t.name.find("bias") != std::string::npos)
        for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = i % 2 ? -0.4f : 0.1f;
    run.import_params(f, "mem");
    Model oracle(*be, spec, NetLayout::plan(spec, /*reorder=*/false), N);  // the spec's own order
    oracle.import_params(f, "mem");
    std::vector<float> x(size_t(N) * 28 * 28), dl(size_t(N) * 10);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 37) % 101) / 101.f - 0.3f;
    for (size_t i = 0; i < dl.size(); ++i) dl[i] = float(int(i % 7) - 3) / 7.f;
    Buffer<float> xb(*be, x.size()), db(*be, dl.size());
    xb.upload(x);
    db.upload(dl);
    std::vector<float> logits[2], grads[2];
    Model* models[2] = {&run, &oracle};
    for (int m = 0; m < 2; ++m) {
      const float* out = models[m]->forward(xb.data(), N, true, 1);
      logits[m].resize(dl.size());
      be->download(logits[m].data(), out, dl.size() * sizeof(float));
      models[m]->backward(db.data(), N, 1);
      grads[m].resize(models[m]->param_count());
      be->download(grads[m].data(), models[m]->grads(), grads[m].size() * sizeof(float));
    }
    EXPECT_EQ(logits[0], logits[1]);
    EXPECT_EQ(grads[0], grads[1]);
  }
}

// A model file written with the tiny net of these tests, with optional input_scale metadata.
std::string save_tiny(Backend& be, const std::string& name, const char* input_scale) {
  const auto dir = std::filesystem::path(::testing::TempDir()) / "digits_scale_test";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  const NetSpec spec = NetSpec::parse("conv(4,3) relu maxpool(2) flatten dense(10)");
  Model m(be, spec, 4);
  m.init(5);
  ModelFile f;
  f.metadata[meta::kSpec] = spec.text();
  if (input_scale) f.metadata[meta::kInputScale] = input_scale;
  f.tensors = m.export_params();
  save_model_file(path, f);
  return path;
}

TEST(Model, LoadReadsTheInputScale) {
  auto be = make_cpu_backend(1);
  // What the trainer writes for 1/255 reads back as exactly kDefaultInputScale; no entry means the default.
  EXPECT_EQ(load_model(*be, save_tiny(*be, "a.safetensors", "0.00392156862745098"), 1)->input_scale(), kDefaultInputScale);
  EXPECT_EQ(load_model(*be, save_tiny(*be, "b.safetensors", nullptr), 1)->input_scale(), kDefaultInputScale);
  EXPECT_EQ(load_model(*be, save_tiny(*be, "c.safetensors", "0.5"), 1)->input_scale(), 0.5f);
  EXPECT_EQ(load_model(*be, save_tiny(*be, "d.safetensors", "1"), 1)->input_scale(), 1.f);
  for (const char* bad : {"0", "-0.1", "1.5", "nan", "inf", "", "0.1x", "1e-99"}) {
    const std::string path = save_tiny(*be, "bad.safetensors", bad);
    const std::string msg = testing::error_of([&] { load_model(*be, path, 1); });
    EXPECT_EQ(msg.rfind(path + ": metadata input_scale '" + bad + "' is not a number in (0, 1]", 0), 0u) << msg;
  }
}

TEST(Model, BundledModelsUseTheDefaultInputScale) {
  auto be = make_cpu_backend(1);
  const auto dir = std::filesystem::path(DIGITS_SOURCE_DIR) / "data" / "models";
  int seen = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    EXPECT_EQ(load_model(*be, e.path().string(), 1)->input_scale(), kDefaultInputScale) << e.path();
    ++seen;
  }
  EXPECT_GT(seen, 0);
}

// The Predictor feeds pixel * input_scale: a model whose scale is twice the default sees every input doubled.
TEST(Predictor, UsesTheModelFilesInputScale) {
  auto be = make_cpu_backend(1);
  Predictor plain(*be, save_tiny(*be, "plain.safetensors", nullptr));
  Predictor twice(*be, save_tiny(*be, "twice.safetensors", "0.00784313725490196"));  // 2/255
  std::vector<DigitInput> in(2), doubled(2);
  for (size_t i = 0; i < in.size(); ++i)
    for (size_t k = 0; k < in[i].pixels.size(); ++k) {
      in[i].pixels[k] = float((k * (i + 3)) % 7) / 7.f;
      doubled[i].pixels[k] = 2.f * in[i].pixels[k];
    }
  const auto a = twice.classify(in), b = plain.classify(doubled), c = plain.classify(in);
  for (size_t i = 0; i < in.size(); ++i)
    for (size_t k = 0; k < 10; ++k) EXPECT_NEAR(a[i][k], b[i][k], 1e-6f) << i << "," << k;
  EXPECT_NE(a[0], c[0]);
}

TEST(BackendSelect, CpuAlwaysWorksAndCudaIsExplicit) {
  BackendChoice c = select_backend(BackendOptions{DevicePref::Cpu, 1});
  ASSERT_TRUE(c.backend);
  EXPECT_EQ(c.backend->kind(), DeviceKind::Cpu);
  EXPECT_FALSE(c.reason.empty());
  BackendChoice a = select_backend(BackendOptions{DevicePref::Auto, 1});
  ASSERT_TRUE(a.backend);
  EXPECT_NE(a.reason.find(a.backend->kind() == DeviceKind::Cpu ? "CPU" : "CUDA"), std::string::npos) << a.reason;
  if (a.backend->kind() == DeviceKind::Cpu) {
    EXPECT_THROW(select_backend(BackendOptions{DevicePref::Cuda, 1}), Error);
  }
  EXPECT_THROW(parse_device_pref("tpu"), Error);
  EXPECT_EQ(parse_device_pref("cuda"), DevicePref::Cuda);
}

}  // namespace
}  // namespace digits
