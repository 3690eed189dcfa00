// Fine-tuning on personal samples, with a tiny network trained here on the synthetic set: a "personal style"
// (the synthetic digits inverted, which the base model never saw) is learnt while the replayed set holds;
// the holdout split, the metadata, progress, cancelling (nothing written) and the refused destinations.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "backend.h"
#include "error.h"
#include "finetune.h"
#include "model.h"
#include "model_file.h"
#include "testing/error_of.h"
#include "testing/files.h"
#include "testing/run_cli.h"
#include "testing/synthetic.h"
#include "trainer.h"

namespace digits {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// The synthetic digits drawn in another hand: ink and paper swapped.
Dataset personal_style(int count, uint64_t seed) {
  Dataset d = testing::synthetic_split(count, seed);
  for (auto& v : d.images) v = uint8_t(255 - v);
  return d;
}

class Finetune : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = tmp_.file("base.safetensors");
    TrainOptions o;
    o.preset = "custom";
    o.spec = NetSpec::parse("conv(8,5) relu maxpool(2) flatten dense(32) relu dense(10)");
    o.cfg.epochs = 3;
    o.cfg.batch = 32;
    o.cfg.optimizer = OptimizerKind::Adam;
    o.cfg.lr = 3e-3f;
    o.out = base_;
    std::ostringstream log;
    o.log = &log;
    train(*be_, mnist_, o);
  }
  FinetuneOptions quick() const {
    FinetuneOptions f;
    f.epochs = 40;
    f.batch = 32;
    f.replay = 0.5;
    f.lr = 2e-3f;
    f.stroke_widths = false;  // a third of the steps; the stroke-width test switches it on
    return f;
  }

  TempDir tmp_;
  std::unique_ptr<Backend> be_ = make_cpu_backend(0);
  const Mnist mnist_ = testing::synthetic_mnist();
  const Dataset samples_ = personal_style(100, 21), check_ = personal_style(200, 22);
  std::string base_;
};

TEST_F(Finetune, LearnsThePersonalStyleAndKeepsTheReplayedSet) {
  const FinetuneResult r = finetune(*be_, base_, {&samples_, &mnist_, &check_}, quick(), tmp_.file("p.safetensors"));
  EXPECT_FALSE(r.cancelled);
  EXPECT_GT(r.steps, 0);
  EXPECT_EQ(r.steps, r.planned_steps);
  EXPECT_EQ(r.check.count, 200);
  EXPECT_LT(r.check.before, 0.5) << "the base model must not read the style already";
  EXPECT_GE(r.check.after, 0.8);
  EXPECT_GE(r.check.after - r.check.before, 0.4);
  EXPECT_GE(r.held_back.after, 0.8);
  EXPECT_GE(r.mnist_test.before, 0.9);
  EXPECT_GE(r.mnist_test.after, r.mnist_test.before - 0.05);
  EXPECT_GT(r.cpu_seconds, 0);
  // The saved model reads the style as measured, and misreads what the result says it still misreads.
  auto model = load_model(*be_, tmp_.file("p.safetensors"), 200);
  const ResidentData resident(*be_, check_);
  const EvalResult e = evaluate(*model, resident, check_);
  EXPECT_DOUBLE_EQ(e.accuracy(), r.check.after);
  int misread = 0;
  for (const Misread& m : r.check.misread) {
    EXPECT_NE(m.truth, m.read);
    EXPECT_EQ(m.count, e.confusion[size_t(m.truth)][size_t(m.read)]);
    misread += m.count;
  }
  EXPECT_EQ(misread, e.count - e.correct);
}

// Every off-diagonal cell of the confusion matrix, the most frequent first, ties in (truth, read) order.
TEST(FinetuneMisread, ListsTheConfusionsMostFrequentFirst) {
  std::array<std::array<int, 10>, 10> c{};
  c[3][3] = 50;  // read right: not a misreading
  c[1][7] = 2, c[7][9] = 5, c[4][9] = 2, c[0][6] = 1;
  const std::vector<Misread> m = misreadings(c);
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ((std::array<int, 3>{m[0].truth, m[0].read, m[0].count}), (std::array<int, 3>{7, 9, 5}));
  EXPECT_EQ((std::array<int, 3>{m[1].truth, m[1].read, m[1].count}), (std::array<int, 3>{1, 7, 2}));
  EXPECT_EQ((std::array<int, 3>{m[2].truth, m[2].read, m[2].count}), (std::array<int, 3>{4, 9, 2}));
  EXPECT_EQ((std::array<int, 3>{m[3].truth, m[3].read, m[3].count}), (std::array<int, 3>{0, 6, 1}));
  EXPECT_EQ(describe(m), "7 as 9 (5), 1 as 7 (2), 4 as 9 (2), ...");
  EXPECT_EQ(describe(m, 4), "7 as 9 (5), 1 as 7 (2), 4 as 9 (2), 0 as 6 (1)");
  EXPECT_EQ(describe({}), "");
  // The digits to add: 7 (5 misread), then 1 and 4 (2 each; the lower first), then 0.
  EXPECT_EQ(digits_to_add(m), "7 and 1");
  EXPECT_EQ(digits_to_add(m, 3), "7, 1 and 4");
  EXPECT_EQ(digits_to_add(m, 1), "7");
  EXPECT_EQ(digits_to_add({}), "");
  // Counts add up per digit written: 2 read as 7 and 3 read as 2 make the 1s the most misread.
  EXPECT_EQ(digits_to_add(misreadings([] {
              std::array<std::array<int, 10>, 10> c{};
              c[1][7] = 2, c[1][2] = 3, c[9][4] = 4;
              return c;
            }())),
            "1 and 9");
}

TEST_F(Finetune, HoldsBackAFractionOfEachDigit) {
  FinetuneOptions o = quick();
  o.epochs = 1;
  o.holdout = 0.25;
  const FinetuneResult r = finetune(*be_, base_, {&samples_, nullptr, nullptr}, o, tmp_.file("p.safetensors"));
  int expected_held = 0;
  for (int d = 0; d < 10; ++d) {
    const int n = int(std::count(samples_.labels.begin(), samples_.labels.end(), uint8_t(d)));
    expected_held += std::min(n - 1, int(std::lround(0.25 * n)));
  }
  EXPECT_EQ(r.held_back.count, expected_held);
  EXPECT_EQ(r.trained_on + r.held_back.count, samples_.count);
  EXPECT_EQ(r.mnist_test.count, 0) << "no MNIST: nothing replayed, nothing measured";
  o.holdout = 0;
  EXPECT_EQ(finetune(*be_, base_, {&samples_, nullptr, nullptr}, o, tmp_.file("p.safetensors")).held_back.count, 0);
}

// A 3x3 square of ink: thickened, the 5x5 square less its corners; thinned, its centre alone.
TEST(FinetuneStrokeWidths, ThickenAndThinByOnePixel) {
  Dataset d;
  d.rows = d.cols = 28, d.count = 1, d.labels = {3};
  d.images.assign(28 * 28, 0);
  for (int y = 12; y <= 14; ++y)
    for (int x = 12; x <= 14; ++x) d.images[size_t(y * 28 + x)] = 200;
  auto ink = [](const Dataset& o) { return std::count(o.images.begin(), o.images.end(), uint8_t(200)); };
  const Dataset thick = stroke_width_changed(d, true), thin = stroke_width_changed(d, false);
  EXPECT_EQ(ink(thick), 21);
  EXPECT_EQ(thick.images[11 * 28 + 11], 0) << "a corner: not a neighbour of the square";
  EXPECT_EQ(thick.images[11 * 28 + 13], 200);
  EXPECT_EQ(ink(thin), 1);
  EXPECT_EQ(thin.images[13 * 28 + 13], 200);
  EXPECT_EQ(thick.labels, d.labels);
  EXPECT_EQ(thick.count + thin.count, 2);
}

// With stroke_widths a pass still trains on each sample once (the same steps), as one of its three versions:
// the weights come out otherwise than without.
TEST_F(Finetune, StrokeWidthsKeepTheStepsAndChangeWhatIsLearnt) {
  FinetuneOptions o = quick();
  o.epochs = 2;
  ASSERT_FALSE(o.stroke_widths);
  const FinetuneResult plain = finetune(*be_, base_, {&samples_, &mnist_, nullptr}, o, tmp_.file("plain.safetensors"));
  o.stroke_widths = true;
  const FinetuneResult three = finetune(*be_, base_, {&samples_, &mnist_, nullptr}, o, tmp_.file("p.safetensors"));
  EXPECT_EQ(three.trained_on, plain.trained_on) << "samples, not copies";
  EXPECT_EQ(three.planned_steps, plain.planned_steps);
  const ModelFile f = load_model_file(tmp_.file("p.safetensors"));
  EXPECT_NE(f.tensors.front().data, load_model_file(tmp_.file("plain.safetensors")).tensors.front().data);
  EXPECT_TRUE(nlohmann::json::parse(f.metadata.at(meta::kFinetune)).at("stroke_widths").get<bool>());
}

// One step: the dense layers' change is dense_lr_scale times what it is at scale 1, the convolution's the same
// (its gradients come before any update).
TEST_F(Finetune, DenseLayersLearnAtTheirScale) {
  const Dataset ten = personal_style(10, 23);
  FinetuneOptions o = quick();
  o.epochs = 1, o.holdout = 0;
  auto changes = [&](float scale) {
    o.dense_lr_scale = scale;
    const std::string out = tmp_.file("scale" + std::to_string(scale) + ".safetensors");
    EXPECT_EQ(finetune(*be_, base_, {&ten, &mnist_, nullptr}, o, out).steps, 1);
    const ModelFile base = load_model_file(base_), after = load_model_file(out);
    std::map<std::string, std::vector<double>> d;
    for (size_t t = 0; t < after.tensors.size(); ++t)
      for (size_t i = 0; i < after.tensors[t].data.size(); ++i)
        d[after.tensors[t].name].push_back(double(after.tensors[t].data[i]) - base.tensors[t].data[i]);
    return d;
  };
  const auto one = changes(1), three = changes(3);
  for (const auto& [name, d1] : one) {
    const double k = name.starts_with("0.") ? 1 : 3;  // "0.": the conv; "4.", "6.": the dense layers
    double moved = 0;
    for (size_t i = 0; i < d1.size(); ++i) {
      EXPECT_NEAR(three.at(name)[i], k * d1[i], 1e-6 + 1e-3 * std::abs(k * d1[i])) << name << "[" << i << "]";
      moved = std::max(moved, std::abs(d1[i]));
    }
    EXPECT_GT(moved, 1e-5) << name << " did not move";
  }
}

TEST_F(Finetune, RecordsTheBaseTheSamplesAndTheDate) {
  const std::string out = tmp_.file("p.safetensors");
  FinetuneOptions o = quick();
  o.epochs = 2;
  const FinetuneResult r = finetune(*be_, base_, {&samples_, &mnist_, nullptr}, o, out);
  const ModelFile f = load_model_file(out), base = load_model_file(base_);
  EXPECT_EQ(f.metadata.at(meta::kFinetunedFrom), fs::canonical(base_).string());
  EXPECT_EQ(f.metadata.at(meta::kPersonalSamples), std::to_string(r.trained_on));
  EXPECT_TRUE(std::regex_match(f.metadata.at(meta::kFinetunedAt), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << f.metadata.at(meta::kFinetunedAt);
  const auto j = nlohmann::json::parse(f.metadata.at(meta::kFinetune));
  EXPECT_EQ(j.at("steps").get<int>(), r.steps);
  EXPECT_EQ(j.at("epochs").get<int>(), 2);
  for (const char* same : {meta::kSpec, meta::kPreset, meta::kInputScale, meta::kDatasetCrc})
    EXPECT_EQ(f.metadata.at(same), base.metadata.at(same)) << same;
  EXPECT_NEAR(std::stod(f.metadata.at(meta::kTestAccuracy)), r.mnist_test.after, 1e-5) << "the fine-tuned model's own";
}

TEST_F(Finetune, ReportsProgressAndCancelsWithoutWriting) {
  const std::string out = tmp_.file("p.safetensors");
  testing::write_bytes(out, {'o', 'l', 'd'});
  std::atomic<bool> cancel{false};
  std::vector<int> steps;
  FinetuneOptions o = quick();
  o.on_progress = [&](const FinetuneProgress& p) {
    steps.push_back(p.step);
    EXPECT_GT(p.steps, 10);
    EXPECT_TRUE(std::isfinite(p.loss));
    if (p.step >= 10) cancel = true;
  };
  o.cancel = &cancel;
  const FinetuneResult r = finetune(*be_, base_, {&samples_, &mnist_, nullptr}, o, out);
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.steps, 10);
  EXPECT_EQ(steps, (std::vector<int>{5, 10}));
  EXPECT_EQ(testing::read_bytes(out), (testing::Bytes{'o', 'l', 'd'})) << "the previous model stays as it was";
  EXPECT_EQ(testing::listing(tmp_.path()).size(), 2u) << "no temporary left";
}

TEST_F(Finetune, NeverOverwritesTheBaseOrABundledModel) {
  EXPECT_NE(testing::error_of([&] { check_personal_out(base_, base_); }).find("base model itself"), std::string::npos);
  fs::create_symlink(base_, tmp_.file("link.safetensors"));
  EXPECT_NE(testing::error_of([&] { check_personal_out(tmp_.file("link.safetensors"), base_); }).find("base model"),
            std::string::npos);
  fs::create_directories(tmp_.file("data/models"));
  const std::string bundled = tmp_.file("data/models/personal.safetensors");
  EXPECT_NE(testing::error_of([&] { check_personal_out(bundled, base_); }).find("bundled"), std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              finetune(*be_, base_, {&samples_, &mnist_, nullptr}, quick(), std::string(DIGITS_SOURCE_DIR) +
                                                                                "/data/models/default.safetensors");
            }).find("bundled"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(bundled));
  check_personal_out(tmp_.file("fine.safetensors"), base_);  // anywhere else is fine
}

TEST_F(Finetune, RefusesBadOptions) {
  FinetuneOptions o = quick();
  o.holdout = 1;
  EXPECT_NE(testing::error_of([&] { o.validate(); }).find("--holdout"), std::string::npos);
  o = quick();
  o.epochs = 0;
  EXPECT_NE(testing::error_of([&] { o.validate(); }).find("--epochs"), std::string::npos);
  o = quick();
  o.dense_lr_scale = 0;
  EXPECT_NE(testing::error_of([&] { o.validate(); }).find("--dense-lr-scale"), std::string::npos);
  const Dataset none = testing::synthetic_split(0, 1);
  EXPECT_NE(testing::error_of([&] { finetune(*be_, base_, {&none, nullptr, nullptr}, quick(), tmp_.file("p")); })
                .find("no personal samples"),
            std::string::npos);
}

// The command refuses before any work, with what to do, and exits 1.
TEST(FinetuneCli, RefusesAnEmptyStoreAndTheBundledFolder) {
  TempDir tmp;
  fs::create_directories(tmp.file("samples/4"));
  const std::string bundled = std::string(DIGITS_SOURCE_DIR) + "/data/models/mine.safetensors";
  auto r = testing::run_digits("finetune --device cpu --samples " + tmp.file("samples") + " --out " + tmp.file("p.st"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("no usable samples"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("window"), std::string::npos) << r.output;
  r = testing::run_digits("finetune --device cpu --samples " + tmp.file("samples") + " --out " + bundled);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("bundled"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(bundled));
  r = testing::run_digits("finetune --device cpu --holdout 1.5 --samples " + tmp.file("samples"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--holdout"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace digits
