// eval_report: confusion CSV/JSON, the misread-digit grid (layout, order, cut, cell pixels, labels drawn with
// the bitmap font, PNG round trip) and the eval command's early errors, on crafted results without MNIST.
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "error.h"
#include "eval_report.h"
#include "image_io.h"
#include "testing/files.h"
#include "testing/run_cli.h"

namespace digits {
namespace {

using testing::TempDir;

// ---------------------------------------------------------------------------------------------------------
// helpers: a crafted test set and evaluation result

// n 28x28 images, each different: image i is a bar at row 2 + i % 24 plus a pixel gradient, so a cell can be
// matched to its source image.
Dataset make_test_set(int n) {
  Dataset d;
  d.count = n;
  d.rows = d.cols = 28;
  d.images.resize(size_t(n) * 784);
  d.labels.resize(size_t(n));
  for (int i = 0; i < n; ++i) {
    uint8_t* img = &d.images[size_t(i) * 784];
    for (int x = 0; x < 28; ++x) img[(2 + i % 24) * 28 + x] = 255;
    for (int y = 0; y < 28; ++y) img[y * 28 + (3 + i % 20)] = uint8_t(40 + 7 * y);
    d.labels[size_t(i)] = uint8_t(i % 10);
  }
  return d;
}

// Every image of `d` predicted correctly with confidence 0.95, except those in `wrong`: (index, predicted
// class, confidence of that class).
struct Wrong {
  int index, predicted;
  float confidence;
};
EvalResult make_result(const Dataset& d, const std::vector<Wrong>& wrong) {
  EvalResult r;
  r.count = d.count;
  r.predicted.assign(d.labels.begin(), d.labels.end());
  r.probs.assign(size_t(d.count) * 10, 0.f);
  std::vector<float> conf(size_t(d.count), 0.95f);
  for (const Wrong& w : wrong) {
    r.predicted[size_t(w.index)] = uint8_t(w.predicted);
    conf[size_t(w.index)] = w.confidence;
  }
  for (int i = 0; i < d.count; ++i) {
    const int p = r.predicted[size_t(i)];
    for (int k = 0; k < 10; ++k) r.probs[size_t(i) * 10 + size_t(k)] = k == p ? conf[size_t(i)] : (1 - conf[size_t(i)]) / 9;
    r.confusion[d.labels[size_t(i)]][size_t(p)]++;
    r.correct += p == d.labels[size_t(i)];
  }
  return r;
}

// `wrong` for k misread images 0..k-1 (predicted label + 1), confidences falling with the index.
std::vector<Wrong> first_k_wrong(const Dataset& d, int k) {
  std::vector<Wrong> w;
  for (int i = 0; i < k; ++i) w.push_back({i, (d.labels[size_t(i)] + 1) % 10, 0.99f - 0.01f * float(i)});
  return w;
}

bool is_ink(Rgb c) { return !(c == Rgb{255, 255, 255}); }

// Where `text` drawn with draw_text (any colour) appears exactly, as ink on white, inside the rectangle
// [x0, x1) x [y0, y1) of `img`: the top-left corner, or {-1, -1}.
std::array<int, 2> find_text(const RgbImage& img, const std::string& text, int x0, int y0, int x1, int y1,
                             int scale = 1) {
  const int w = text_width(text, scale) + scale, h = kGlyphH * scale;  // + the gap after the last glyph
  RgbImage stamp(w, h, {255, 255, 255});
  draw_text(stamp, 0, 0, text, {0, 0, 0}, scale);
  for (int y = std::max(0, y0); y + h <= std::min(y1, img.height); ++y)
    for (int x = std::max(0, x0); x + w <= std::min(x1, img.width); ++x) {
      bool same = true;
      for (int sy = 0; sy < h && same; ++sy)
        for (int sx = 0; sx < w && same; ++sx) same = is_ink(stamp.at(sx, sy)) == is_ink(img.at(x + sx, y + sy));
      if (same) return {x, y};
    }
  return {-1, -1};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// ---------------------------------------------------------------------------------------------------------
// confusion matrix files

EvalResult counting_confusion() {
  EvalResult r;
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p) r.confusion[size_t(t)][size_t(p)] = 10 * t + p + (t == p ? 1000 : 0);
  return r;
}

TEST(EvalReport, ConfusionCsvHasHeaderAndOneRowPerTrueDigit) {
  const std::string csv = confusion_csv(counting_confusion());
  std::vector<std::string> lines;
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 11u) << csv;
  EXPECT_EQ(lines[0], "true\\predicted,0,1,2,3,4,5,6,7,8,9");
  EXPECT_EQ(lines[1], "0,1000,1,2,3,4,5,6,7,8,9");
  EXPECT_EQ(lines[4], "3,30,31,32,1033,34,35,36,37,38,39");
  EXPECT_EQ(lines[10], "9,90,91,92,93,94,95,96,97,98,1099");
  EXPECT_EQ(csv.back(), '\n');
}

TEST(EvalReport, ProbabilitiesCsvHasOneRowPerImageThatReadsBackExactly) {
  const Dataset d = make_test_set(12);
  EvalResult r = make_result(d, {{3, 8, 0.61f}});
  r.probs[0] = 1.0f / 3.0f;  // needs all 9 digits to read back as the same float
  const std::string csv = probabilities_csv(d, r);
  std::vector<std::string> lines;
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 13u) << csv;
  EXPECT_EQ(lines[0], "index,label,predicted,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9");
  EXPECT_EQ(lines[4].substr(0, 6), "3,3,8,") << lines[4];
  for (int i = 0; i < 12; ++i) {
    std::istringstream row(lines[size_t(i) + 1]);
    std::string cell;
    std::vector<std::string> cells;
    while (std::getline(row, cell, ',')) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 13u) << lines[size_t(i) + 1];
    EXPECT_EQ(cells[0], std::to_string(i));
    EXPECT_EQ(cells[1], std::to_string(d.labels[size_t(i)]));
    for (int k = 0; k < 10; ++k) EXPECT_EQ(std::strtof(cells[size_t(k) + 3].c_str(), nullptr), r.probs[size_t(i) * 10 + size_t(k)]);
  }
  EXPECT_EQ(lines[1].substr(6, 12), "0.333333343,") << lines[1];
  EvalResult other = r;
  other.count = 11;
  EXPECT_THROW(probabilities_csv(d, other), Error);  // a result of another test set
}

TEST(EvalReport, ConfusionJsonNamesRowsAndColumns) {
  const EvalResult r = counting_confusion();
  const nlohmann::json j = confusion_json(r);
  EXPECT_EQ(j.at("rows"), "true");
  EXPECT_EQ(j.at("columns"), "predicted");
  ASSERT_EQ(j.at("matrix").size(), 10u);
  for (int t = 0; t < 10; ++t) {
    ASSERT_EQ(j["matrix"][size_t(t)].size(), 10u);
    for (int p = 0; p < 10; ++p) EXPECT_EQ(j["matrix"][size_t(t)][size_t(p)], r.confusion[size_t(t)][size_t(p)]);
  }
  EXPECT_EQ(j.size(), 3u);
  // The file text is the same document, one row per line.
  const std::string text = confusion_json_text(r);
  EXPECT_EQ(nlohmann::json::parse(text), j) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 12) << text;
}

TEST(EvalReport, ConfusionFormatFollowsTheExtension) {
  EXPECT_EQ(confusion_format("out/c.csv"), ConfusionFormat::Csv);
  EXPECT_EQ(confusion_format("C.CSV"), ConfusionFormat::Csv);
  EXPECT_EQ(confusion_format("/tmp/x.y/c.json"), ConfusionFormat::Json);
  for (const char* bad : {"c.txt", "c", "csv", "c.csv.bak", "dir.csv/c", "c.jsn"}) {
    try {
      confusion_format(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(".csv or .json"), std::string::npos) << e.what();
    }
  }
}

TEST(EvalReport, WriteConfusionWritesTheFormatOfTheName) {
  TempDir dir("digits_eval_report");
  const EvalResult r = counting_confusion();
  write_confusion(dir.file("c.csv"), r);
  write_confusion(dir.file("c.json"), r);
  EXPECT_EQ(read_text(dir.file("c.csv")), confusion_csv(r));
  EXPECT_EQ(nlohmann::json::parse(read_text(dir.file("c.json"))), confusion_json(r));
  EXPECT_THROW(write_confusion(dir.file("c.txt"), r), Error);
  EXPECT_FALSE(std::filesystem::exists(dir.file("c.txt")));
  EXPECT_THROW(write_confusion(dir.file("missing/c.csv"), r), Error);
  // Nothing but the two files (no temporary left behind).
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 2);
}

TEST(EvalReport, OutputChecksNameTheProblem) {
  TempDir dir("digits_eval_report");
  EXPECT_NO_THROW(check_output_writable(dir.file("c.csv"), "--confusion"));
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  std::string m = message([&] { check_output_writable(dir.file("nope/c.csv"), "--confusion"); });
  EXPECT_NE(m.find("--confusion"), std::string::npos) << m;
  EXPECT_NE(m.find("does not exist"), std::string::npos) << m;
  m = message([&] { check_output_writable(dir.path(), "--misread"); });
  EXPECT_NE(m.find("is a directory"), std::string::npos) << m;
  // A regular file in place of the directory.
  std::ofstream(dir.file("plain")) << "x";
  m = message([&] { check_output_writable(dir.file("plain/m.png"), "--misread"); });
  EXPECT_NE(m.find("does not exist"), std::string::npos) << m;
  m = message([&] { check_png_path("grid.jpg", "--misread"); });
  EXPECT_NE(m.find("grid.jpg"), std::string::npos) << m;
  EXPECT_NE(m.find(".png"), std::string::npos) << m;
  EXPECT_NO_THROW(check_png_path("GRID.PNG", "--misread"));
  if (::geteuid() != 0) {  // root writes into read-only directories
    std::filesystem::create_directory(dir.file("ro"));
    std::filesystem::permissions(dir.file("ro"), std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    m = message([&] { check_output_writable(dir.file("ro/c.csv"), "--confusion"); });
    EXPECT_NE(m.find("cannot write"), std::string::npos) << m;
  }
  // The probe file is gone.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    files += e.path().filename().string().rfind(".digits-write-test", 0) == 0;
  EXPECT_EQ(files, 0);
}

// ---------------------------------------------------------------------------------------------------------
// misread digits and the grid

TEST(MisreadDigits, MostConfidentWrongClassFirstTiesByIndex) {
  const Dataset d = make_test_set(12);
  // labels are i % 10
  const EvalResult r = make_result(d, {{1, 7, 0.5f}, {3, 8, 0.9f}, {4, 2, 0.7f}, {9, 4, 0.9f}, {11, 0, 0.3f}});
  const std::vector<Misread> m = misread_digits(d, r);
  ASSERT_EQ(m.size(), 5u);
  const int order[] = {3, 9, 4, 1, 11};
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(m[k].index, order[k]) << k;
  EXPECT_EQ(m[0].truth, 3);
  EXPECT_EQ(m[0].predicted, 8);
  EXPECT_FLOAT_EQ(m[0].confidence, 0.9f);
  EXPECT_EQ(m[4].truth, 1);
  EXPECT_EQ(m[4].predicted, 0);
  EXPECT_EQ(misread_label(m[0]), "3>8 (90%)");
  EXPECT_EQ(misread_label({0, 7, 2, 0.987f}), "7>2 (98%)");  // rounded down
  EXPECT_EQ(misread_label({0, 7, 2, 1.0f}), "7>2 (100%)");
}

TEST(MisreadDigits, RejectsAResultOfAnotherTestSet) {
  const Dataset d = make_test_set(5);
  EvalResult r = make_result(d, {});
  const Dataset other = make_test_set(6);
  EXPECT_THROW(misread_digits(other, r), Error);
  r.probs.clear();  // an EvalResult without per-image outputs
  EXPECT_THROW(misread_digits(d, r), Error);
  EXPECT_THROW(misread_grid(d, make_result(d, {}), -1), Error);
}

TEST(MisreadGrid, DimensionsFollowTheNumberOfCells) {
  for (const int k : {1, 3, 19, 20, 21, 40, 45}) {
    const Dataset d = make_test_set(60);
    const MisreadGrid g = misread_grid(d, make_result(d, first_k_wrong(d, k)), 200);
    EXPECT_EQ(g.total, k);
    ASSERT_EQ(int(g.shown.size()), k);
    EXPECT_EQ(g.layout.columns, std::min(k, kGridColumns)) << k;
    EXPECT_EQ(g.layout.rows, (k + kGridColumns - 1) / kGridColumns) << k;
    EXPECT_EQ(g.image.width, g.layout.width);
    EXPECT_EQ(g.image.height, g.layout.height);
    EXPECT_EQ(g.image.pixels.size(), size_t(g.image.width) * g.image.height * 3);
    EXPECT_EQ(g.image.height, g.layout.top + g.layout.rows * kGridCellH + kGridMargin) << k;
    EXPECT_GE(g.image.width, 2 * kGridMargin + g.layout.columns * kGridCellW) << k;
    if (k >= kGridColumns) {
      EXPECT_EQ(g.image.width, 2 * kGridMargin + kGridColumns * kGridCellW) << k;
    }
    // Every cell lies inside the image, and cells do not overlap.
    for (int i = 0; i < k; ++i) {
      const auto [x, y] = g.layout.digit_xy(i);
      EXPECT_GE(x, kGridMargin);
      EXPECT_LE(x + kGridDigit + kGridMargin, g.image.width);
      EXPECT_LE(y + kGridCellH, g.image.height);
      if (i > 0 && i % kGridColumns != 0) {
        EXPECT_EQ(x - g.layout.digit_xy(i - 1)[0], kGridCellW);
      }
    }
  }
}

TEST(MisreadGrid, MaxItemsKeepsTheMostConfident) {
  const Dataset d = make_test_set(50);
  std::vector<Wrong> wrong;
  for (int i = 0; i < 30; ++i) wrong.push_back({i, (d.labels[size_t(i)] + 3) % 10, 0.2f + 0.02f * float((i * 7) % 30)});
  const EvalResult r = make_result(d, wrong);
  const MisreadGrid g = misread_grid(d, r, 7);
  EXPECT_EQ(g.total, 30);
  ASSERT_EQ(g.shown.size(), 7u);
  const std::vector<Misread> all = misread_digits(d, r);
  for (size_t k = 0; k < 7; ++k) EXPECT_EQ(g.shown[k].index, all[k].index);
  for (size_t k = 1; k < 7; ++k) EXPECT_GE(g.shown[k - 1].confidence, g.shown[k].confidence);
  EXPECT_EQ(g.layout.rows, 1);
  EXPECT_EQ(g.layout.columns, 7);
  EXPECT_EQ(misread_title(7, 30), "misread digits: 7 of 30 shown, most confident first");
  const auto title = find_text(g.image, misread_title(7, 30), 0, 0, g.image.width, g.layout.top, 2);
  EXPECT_EQ(title[0], kGridMargin);
  // max_items 0: the title only.
  const MisreadGrid none = misread_grid(d, r, 0);
  EXPECT_EQ(none.total, 30);
  EXPECT_TRUE(none.shown.empty());
  EXPECT_EQ(none.layout.rows, 0);
  EXPECT_NE(find_text(none.image, misread_title(0, 30), 0, 0, none.image.width, none.image.height, 2)[0], -1);
}

TEST(MisreadGrid, CellsHoldTheInvertedDigitAndColouredLabel) {
  const Dataset d = make_test_set(40);
  const EvalResult r = make_result(d, {{5, 9, 0.61f}, {17, 2, 0.98f}, {30, 3, 0.77f}});
  const MisreadGrid g = misread_grid(d, r, 200);
  ASSERT_EQ(g.shown.size(), 3u);
  EXPECT_EQ(g.shown[0].index, 17);
  for (size_t i = 0; i < g.shown.size(); ++i) {
    const Misread& m = g.shown[i];
    const auto [dx, dy] = g.layout.digit_xy(int(i));
    // The digit: 255 - MNIST value, each source pixel a kGridScale x kGridScale block.
    const uint8_t* src = &d.images[size_t(m.index) * 784];
    int mismatches = 0;
    for (int y = 0; y < kGridDigit; ++y)
      for (int x = 0; x < kGridDigit; ++x) {
        const uint8_t v = uint8_t(255 - src[(y / kGridScale) * 28 + x / kGridScale]);
        mismatches += !(g.image.at(dx + x, dy + y) == Rgb{v, v, v});
      }
    EXPECT_EQ(mismatches, 0) << "cell " << i;
    // The label "17>2 (98%)"-style text below the digit, within the cell.
    const int cell_x = dx - (kGridCellW - kGridDigit) / 2;
    const std::string label = misread_label(m);
    const auto at = find_text(g.image, label, cell_x, dy + kGridDigit + 1, cell_x + kGridCellW, dy + kGridCellH);
    ASSERT_NE(at[0], -1) << "label " << label << " not found in cell " << i;
    // True digit green, prediction red.
    auto glyph_colours = [&](int glyph, int* green, int* red) {
      *green = *red = 0;
      for (int y = 0; y < kGlyphH; ++y)
        for (int x = 0; x < kGlyphW; ++x) {
          const Rgb c = g.image.at(at[0] + glyph * kGlyphAdvance + x, at[1] + y);
          if (!is_ink(c)) continue;
          *green += c.g > 100 && c.r < 60;
          *red += c.r > 150 && c.g < 60;
        }
    };
    int green, red;
    glyph_colours(0, &green, &red);
    EXPECT_GT(green, 5);
    EXPECT_EQ(red, 0);
    glyph_colours(2, &green, &red);
    EXPECT_GT(red, 5);
    EXPECT_EQ(green, 0);
    // The test-set index under the label.
    const std::string index = std::string("#").append(std::to_string(m.index));
    EXPECT_NE(find_text(g.image, index, cell_x, at[1] + kGlyphH, cell_x + kGridCellW, dy + kGridCellH)[0], -1)
        << index;
  }
  // The legend names the colours.
  EXPECT_NE(find_text(g.image, "true>predicted", 0, 0, g.image.width, g.layout.top)[0], -1);
}

TEST(MisreadGrid, NoMisreadDigitsGivesASmallImageSayingNone) {
  const Dataset d = make_test_set(10);
  const MisreadGrid g = misread_grid(d, make_result(d, {}), 200);
  EXPECT_EQ(g.total, 0);
  EXPECT_TRUE(g.shown.empty());
  EXPECT_GT(g.image.width, 0);
  EXPECT_LT(g.image.height, 40);
  EXPECT_EQ(misread_title(0, 0), "misread digits: none");
  EXPECT_NE(find_text(g.image, "none", 0, 0, g.image.width, g.image.height, 2)[0], -1);
  TempDir dir("digits_eval_report");
  save_png_rgb(dir.file("none.png"), g.image);
  const GrayImage back = load_image(dir.file("none.png"));
  EXPECT_EQ(back.width, g.image.width);
  EXPECT_EQ(back.height, g.image.height);
}

TEST(MisreadGrid, PngRoundTripThroughTheImageLoader) {
  const Dataset d = make_test_set(30);
  const MisreadGrid g = misread_grid(d, make_result(d, first_k_wrong(d, 23)), 200);
  TempDir dir("digits_eval_report");
  save_png_rgb(dir.file("grid.png"), g.image);
  const GrayImage back = load_image(dir.file("grid.png"));
  ASSERT_EQ(back.width, g.image.width);
  ASSERT_EQ(back.height, g.image.height);
  int worst = 0;
  for (int y = 0; y < back.height; ++y)
    for (int x = 0; x < back.width; ++x) {
      const Rgb c = g.image.at(x, y);
      const int luma = (299 * c.r + 587 * c.g + 114 * c.b + 500) / 1000;  // the loader's BT.601 grey
      worst = std::max(worst, std::abs(luma - int(back.at(x, y))));
    }
  EXPECT_EQ(worst, 0);
  // Rewriting replaces the file atomically: no temporary left behind.
  save_png_rgb(dir.file("grid.png"), g.image);
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
  EXPECT_THROW(save_png_rgb(dir.file("missing/grid.png"), g.image), Error);
  EXPECT_THROW(save_png_rgb(dir.file("empty.png"), RgbImage()), Error);
}

// ---------------------------------------------------------------------------------------------------------
// bitmap font

TEST(BitmapFont, GlyphsForLabelsAndTitles) {
  auto ink = [](char c) {
    int n = 0;
    for (int y = 0; y < kGlyphH; ++y)
      for (int x = 0; x < kGlyphW; ++x) n += glyph_pixel(c, x, y);
    return n;
  };
  auto same = [](char a, char b) {
    for (int y = 0; y < kGlyphH; ++y)
      for (int x = 0; x < kGlyphW; ++x)
        if (glyph_pixel(a, x, y) != glyph_pixel(b, x, y)) return false;
    return true;
  };
  EXPECT_EQ(ink(' '), 0);
  const std::string chars = "0123456789abcdefghijklmnopqrstuvwxyz#%(),-./:>";
  for (char c : chars) {
    EXPECT_GT(ink(c), 0) << c;
    EXPECT_FALSE(same(c, '?')) << c << " is drawn as '?'";
  }
  // Glyphs are distinct from each other.
  for (size_t a = 0; a < chars.size(); ++a)
    for (size_t b = a + 1; b < chars.size(); ++b) EXPECT_FALSE(same(chars[a], chars[b])) << chars[a] << chars[b];
  EXPECT_TRUE(same('T', 't'));
  EXPECT_TRUE(same('~', '?'));
  for (int x = 0; x < kGlyphW; ++x) EXPECT_TRUE(glyph_pixel('7', x, 0));  // the 7's top bar
  EXPECT_EQ(text_width("", 1), 0);
  EXPECT_EQ(text_width("a", 1), kGlyphW);
  EXPECT_EQ(text_width("7>2", 2), 2 * (3 * kGlyphAdvance - 1));
  RgbImage img(20, 10, {255, 255, 255});
  EXPECT_EQ(draw_text(img, 1, 1, "1", {0, 0, 0}), 1 + kGlyphAdvance);
  EXPECT_EQ(img.at(1 + 2, 1), (Rgb{0, 0, 0}));   // the top of the 1
  EXPECT_EQ(img.at(0, 0), (Rgb{255, 255, 255}));
  draw_text(img, 15, 8, "88", {0, 0, 0}, 2);  // clipped, not a crash
}

// ---------------------------------------------------------------------------------------------------------
// the command's early errors: before the data or the model is even looked for

TEST(EvalReportCli, BadOutputsFailBeforeAnyWork) {
  TempDir dir("digits_eval_report");
  auto r = testing::run_digits("eval --data /nonexistent/mnist --confusion " + dir.file("c.txt"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("digits: error: --confusion"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(".csv or .json"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("/nonexistent/mnist"), std::string::npos) << r.output;

  r = testing::run_digits("eval --data /nonexistent/mnist --misread " + dir.file("m.jpg"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(".png"), std::string::npos) << r.output;

  r = testing::run_digits("eval --data /nonexistent/mnist --misread " + dir.file("no/such/dir/m.png"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("/nonexistent/mnist"), std::string::npos) << r.output;

  std::ofstream(dir.file("plain")) << "x";
  r = testing::run_digits("eval --data /nonexistent/mnist --report " + dir.file("plain"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("not a directory"), std::string::npos) << r.output;

  r = testing::run_digits("eval --data /nonexistent/mnist --misread-max 5");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--misread-max needs"), std::string::npos) << r.output;

  EXPECT_NE(testing::run_digits("eval --misread-max -1 --report " + dir.path()).status, 0);

  // --report creates its directory before the data is looked for; nothing is written after the failure.
  r = testing::run_digits("eval --data /nonexistent/mnist --report " + dir.file("new/report"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/mnist"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("new/report")));
  EXPECT_TRUE(std::filesystem::is_empty(dir.file("new/report")));
}

}  // namespace
}  // namespace digits
