// The personal sample store: where it lives (XDG), the folder and file rules, adding with undo, and reading
// a folder back through predict's preprocessing with unreadable files skipped by name.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "error.h"
#include "preprocess.h"
#include "sample_store.h"
#include "testing/env.h"
#include "testing/error_of.h"
#include "testing/files.h"

namespace digits {
namespace {

namespace fs = std::filesystem;
using testing::EnvGuard;
using testing::TempDir;

// Black ink on white paper, like the window's canvas: a bar, plus a foot when `foot` (so two drawings differ).
GrayImage drawing(bool foot = false) {
  GrayImage g{120, 100, std::vector<uint8_t>(120 * 100, 255)};
  for (int y = 15; y < 85; ++y)
    for (int x = 55; x < 66; ++x) g.pixels[size_t(y) * 120 + size_t(x)] = 0;
  if (foot)
    for (int y = 75; y < 85; ++y)
      for (int x = 35; x < 86; ++x) g.pixels[size_t(y) * 120 + size_t(x)] = 0;
  return g;
}

TEST(SampleStorePaths, FollowXdgDataHomeThenHome) {
  {
    EnvGuard xdg("XDG_DATA_HOME", "/data/xdg"), home("HOME", "/home/u");
    EXPECT_EQ(default_samples_dir(), "/data/xdg/digits/samples");
    EXPECT_EQ(default_personal_model_path(), "/data/xdg/digits/models/personal.safetensors");
  }
  {
    EnvGuard xdg("XDG_DATA_HOME", "relative/ignored"), home("HOME", "/home/u");  // the XDG spec: must be absolute
    EXPECT_EQ(default_samples_dir(), "/home/u/.local/share/digits/samples");
  }
  {
    EnvGuard xdg("XDG_DATA_HOME", nullptr), home("HOME", nullptr);
    EXPECT_NE(testing::error_of([] { default_samples_dir(); }).find("--samples"), std::string::npos);
  }
}

TEST(SampleStoreRules, OnlySingleDigitFoldersAreLabels) {
  for (int d = 0; d <= 9; ++d) EXPECT_EQ(digit_of_folder(std::to_string(d)), d);
  for (const char* bad : {"10", "07", "a", "", "-1", "seven", "1 "}) EXPECT_EQ(digit_of_folder(bad), -1) << bad;
}

TEST(SampleStoreRules, ImageFilesByExtensionNeverTemporariesOrHidden) {
  for (const char* ok : {"a.png", "B.PNG", "c.jpg", "d.JPEG", "e.pgm"}) EXPECT_TRUE(is_sample_file(ok)) << ok;
  for (const char* no : {"labels.csv", "notes.txt", ".hidden.png", "a.png.tmp.123.1", "png", "a.gif"})
    EXPECT_FALSE(is_sample_file(no)) << no;
}

TEST(SampleStore, AddSavesPngsThatCountAndList) {
  TempDir tmp;
  SampleStore store(tmp.file("samples"));  // created on the first add
  const std::string a = store.add(3, drawing()), b = store.add(3, drawing(true)), c = store.add(7, drawing());
  EXPECT_EQ(fs::path(a).parent_path(), fs::path(tmp.file("samples/3")));
  EXPECT_EQ(fs::path(c).parent_path(), fs::path(tmp.file("samples/7")));
  EXPECT_NE(a, b);
  EXPECT_EQ(load_image(b).pixels, drawing(true).pixels) << "the canvas itself is kept, to re-preprocess later";
  const auto counts = store.counts();
  EXPECT_EQ(counts[3], 2);
  EXPECT_EQ(counts[7], 1);
  EXPECT_EQ(store.total(), 3);
  const auto files = store.list();
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path, a);  // by digit, then in the order of adds
  EXPECT_EQ(files[1].path, b);
  EXPECT_EQ(files[2].digit, 7);
  EXPECT_EQ(testing::listing(tmp.file("samples/3")).size(), 2u) << "no temporary left beside the samples";
}

TEST(SampleStore, UndoRemovesTheLastAddsInTurn) {
  TempDir tmp;
  SampleStore store(tmp.path());
  const std::string a = store.add(1, drawing()), b = store.add(2, drawing());
  EXPECT_EQ(store.undo(), b);
  EXPECT_FALSE(fs::exists(b));
  EXPECT_TRUE(fs::exists(a));
  EXPECT_EQ(store.counts()[2], 0);
  EXPECT_EQ(store.undo(), a);
  EXPECT_EQ(store.undo(), "") << "nothing left to undo";
  EXPECT_EQ(store.total(), 0);
}

TEST(SampleStore, RefusesNonDigitLabelsAndEmptyImages) {
  TempDir tmp;
  SampleStore store(tmp.path());
  EXPECT_NE(testing::error_of([&] { store.add(10, drawing()); }).find("0..9"), std::string::npos);
  EXPECT_NE(testing::error_of([&] { store.add(-1, drawing()); }).find("0..9"), std::string::npos);
  EXPECT_NE(testing::error_of([&] { store.add(4, GrayImage{}); }).find("empty"), std::string::npos);
  EXPECT_EQ(store.total(), 0);
}

TEST(LoadSamples, ReadsDigitFoldersAsPredictDoesAndSkipsBadFilesByName) {
  TempDir tmp;
  SampleStore store(tmp.path());
  store.add(2, drawing());
  const GrayImage foot = drawing(true);
  fs::create_directories(tmp.file("5"));
  save_png(tmp.file("5/b.png"), foot);
  testing::write_bytes(tmp.file("5/broken.png"), {0x89, 'P', 'N', 'G', 1, 2, 3});
  fs::create_directories(tmp.file("1"));
  save_png(tmp.file("1/blank.png"), GrayImage{50, 50, std::vector<uint8_t>(2500, 255)});
  testing::write_bytes(tmp.file("2/notes.txt"), {'h', 'i'});
  fs::create_directories(tmp.file("seven"));
  save_png(tmp.file("seven/x.png"), drawing());

  std::ostringstream warn;
  const LoadedSamples s = load_samples(tmp.path(), warn);
  ASSERT_EQ(s.data.count, 2) << warn.str();
  EXPECT_EQ(s.data.labels, (std::vector<uint8_t>{2, 5}));
  EXPECT_EQ(s.data.images.size(), 2u * 28 * 28);
  EXPECT_EQ(s.skipped.size(), 2u);
  for (const char* named : {"broken.png", "blank.png", "seven"})
    EXPECT_NE(warn.str().find(named), std::string::npos) << named << " not named in:\n" << warn.str();
  EXPECT_EQ(warn.str().find("notes.txt"), std::string::npos) << "not an image: not a sample, no warning";

  PreprocessOptions single;
  single.multi_digit = false;
  const Preprocessed p = preprocess(foot, single);
  ASSERT_FALSE(p.empty);
  for (size_t k = 0; k < 28 * 28; ++k)
    ASSERT_EQ(s.data.images[28 * 28 + k], uint8_t(std::lround(p.digits[0].pixels[k] * 255.f))) << "pixel " << k;
}

TEST(LoadSamples, AnEmptyOrMissingStoreSaysWhatToDo) {
  TempDir tmp;
  fs::create_directories(tmp.file("3"));
  std::ostringstream warn;
  const std::string empty = testing::error_of([&] { load_samples(tmp.path(), warn); });
  EXPECT_NE(empty.find("no usable samples"), std::string::npos) << empty;
  EXPECT_NE(empty.find("window"), std::string::npos) << empty;
  EXPECT_NE(empty.find(tmp.path() + "/0"), std::string::npos) << empty;
  const std::string missing = testing::error_of([&] { load_samples(tmp.file("nope"), warn); });
  EXPECT_NE(missing.find("no such folder"), std::string::npos) << missing;
}

}  // namespace
}  // namespace digits
