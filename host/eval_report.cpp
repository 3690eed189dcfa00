// The confusion matrix as CSV / JSON and the misread-digit grid for `digits eval`, labelled with the 5x7
// bitmap font of raster.h.
#include "eval_report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "atomic_file.h"
#include "error.h"
#include "image_io.h"

namespace digits {

namespace {

// clang-format off
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kFrame{215, 215, 215};
constexpr Rgb kText{60, 60, 60};
constexpr Rgb kFaint{140, 140, 140};
constexpr Rgb kTrue{0, 135, 0};
constexpr Rgb kPredicted{205, 0, 0};
// clang-format on

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext;
}

void check_result(const Dataset& test, const EvalResult& r) {
  DIGITS_CHECK(r.count == test.count && test.labels.size() == size_t(test.count) &&
                   test.images.size() == size_t(test.count) * test.pixels(),
               "the evaluation result (" << r.count << " images) does not belong to this test set (" << test.count
                                         << " images)");
  DIGITS_CHECK(r.predicted.size() == size_t(r.count) && r.probs.size() == size_t(r.count) * kClasses,
               "the evaluation result has no per-image predictions (" << r.predicted.size() << " predictions, "
                                                                      << r.probs.size() << " probabilities for "
                                                                      << r.count << " images)");
}

}  // namespace

// ---- output files ---------------------------------------------------------------------------------

ConfusionFormat confusion_format(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".csv") return ConfusionFormat::Csv;
  if (ext == ".json") return ConfusionFormat::Json;
  DIGITS_FAIL("--confusion " << path << ": unknown format; the file name must end in .csv or .json");
}

std::string confusion_csv(const EvalResult& r) {
  std::ostringstream os;
  os << "true\\predicted";
  for (int p = 0; p < kClasses; ++p) os << ',' << p;
  os << '\n';
  for (int t = 0; t < kClasses; ++t) {
    os << t;
    for (int p = 0; p < kClasses; ++p) os << ',' << r.confusion[size_t(t)][size_t(p)];
    os << '\n';
  }
  return os.str();
}

nlohmann::json confusion_json(const EvalResult& r) {
  nlohmann::json j;
  j["rows"] = "true";
  j["columns"] = "predicted";
  j["matrix"] = nlohmann::json::array();
  for (int t = 0; t < kClasses; ++t) j["matrix"].push_back(r.confusion[size_t(t)]);
  return j;
}

std::string confusion_json_text(const EvalResult& r) {
  std::ostringstream os;
  os << "{\"rows\": \"true\", \"columns\": \"predicted\", \"matrix\": [\n";
  for (int t = 0; t < kClasses; ++t) {
    os << "  [";
    for (int p = 0; p < kClasses; ++p) os << (p ? ", " : "") << r.confusion[size_t(t)][size_t(p)];
    os << (t + 1 < kClasses ? "],\n" : "]\n");
  }
  os << "]}\n";
  return os.str();
}

void write_confusion(const std::string& path, const EvalResult& r) {
  const std::string text = confusion_format(path) == ConfusionFormat::Csv ? confusion_csv(r) : confusion_json_text(r);
  write_bytes_atomic(path, text);
}

std::string probabilities_csv(const Dataset& test, const EvalResult& r) {
  check_result(test, r);
  std::string out = "index,label,predicted";
  for (int k = 0; k < kClasses; ++k) out += ",p" + std::to_string(k);
  out += '\n';
  char num[32];
  for (int i = 0; i < r.count; ++i) {
    out += std::to_string(i) + ',' + std::to_string(test.labels[size_t(i)]) + ',' + std::to_string(r.predicted[size_t(i)]);
    for (int k = 0; k < kClasses; ++k) {
      std::snprintf(num, sizeof num, ",%.9g", double(r.probs[size_t(i) * kClasses + size_t(k)]));
      out += num;
    }
    out += '\n';
  }
  return out;
}

void write_probabilities(const std::string& path, const Dataset& test, const EvalResult& r) {
  write_bytes_atomic(path, probabilities_csv(test, r));
}

void check_png_path(const std::string& path, const std::string& what) {
  DIGITS_CHECK(lower_extension(path) == ".png", what << " " << path << ": the grid is a PNG image; the file name must end in .png");
}

void check_output_writable(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  DIGITS_CHECK(!path.empty(), what << ": empty file name");
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  DIGITS_CHECK(fs::is_directory(dir, ec), what << " " << path << ": directory " << dir.string() << " does not exist");
  DIGITS_CHECK(!fs::is_directory(path, ec), what << " " << path << ": is a directory; give a file name");
  // A probe file: permissions alone do not tell (read-only mounts, ACLs, root).
  const std::string probe = (dir / (".digits-write-test." + std::to_string(::getpid()))).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err = errno;
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
  }
  DIGITS_CHECK(fd >= 0, what << " " << path << ": cannot write in " << dir.string() << ": " << std::strerror(err));
}

// ---- misread digits -------------------------------------------------------------------------------

std::vector<Misread> misread_digits(const Dataset& test, const EvalResult& r) {
  check_result(test, r);
  std::vector<Misread> out;
  for (int i = 0; i < r.count; ++i) {
    const int truth = test.labels[size_t(i)], predicted = r.predicted[size_t(i)];
    if (truth == predicted) continue;
    out.push_back({i, truth, predicted, r.probs[size_t(i) * kClasses + size_t(predicted)]});
  }
  std::stable_sort(out.begin(), out.end(), [](const Misread& a, const Misread& b) { return a.confidence > b.confidence; });
  return out;
}

std::string misread_label(const Misread& m) {
  // Rounded down, so that 99.7% does not read as a certain 100%; the 1e-5 keeps 0.9f (0.899999976) at 90%.
  const int percent = std::clamp(int(std::floor(double(m.confidence) * 100.0 + 1e-5)), 0, 100);
  return std::to_string(m.truth) + ">" + std::to_string(m.predicted) + " (" + std::to_string(percent) + "%)";
}

namespace {

// clang-format off
constexpr int kTitleScale = 2;
constexpr int kTitleY     = kGridMargin;
constexpr int kLegendY    = kTitleY + kGlyphH * kTitleScale + 6;
constexpr int kTopNone    = kTitleY + kGlyphH * kTitleScale + kGridMargin;  // title only
constexpr int kTopCells   = kLegendY + kGlyphH + kGridMargin;               // title and legend
constexpr int kDigitDX    = (kGridCellW - kGridDigit) / 2;                  // digit inside its cell
constexpr int kDigitDY    = 4;
constexpr int kLabelDY    = kDigitDY + kGridDigit + 5;
constexpr int kIndexDY    = kLabelDY + kGlyphH + 3;
// clang-format on
static_assert(kIndexDY + kGlyphH + 3 <= kGridCellH, "the cell's text does not fit under the digit");
static_assert(kDigitDX >= 2, "no room for the frame around the digit");

const char* const kLegend[] = {"true", ">", "predicted", " (confidence of the prediction), #index in the test set"};
const Rgb kLegendColour[] = {kTrue, kText, kPredicted, kText};

std::string legend_text() {
  std::string s;
  for (const char* part : kLegend) s += part;
  return s;
}

}  // namespace

std::array<int, 2> MisreadLayout::digit_xy(int i) const {
  DIGITS_CHECK(columns > 0 && i >= 0 && i < columns * rows, "grid cell " << i << " of " << columns * rows);
  return {kGridMargin + (i % columns) * kGridCellW + kDigitDX, top + (i / columns) * kGridCellH + kDigitDY};
}

std::string misread_title(int shown, int total) {
  if (total == 0) return "misread digits: none";
  return "misread digits: " + std::to_string(shown) + " of " + std::to_string(total) + " shown, most confident first";
}

MisreadLayout misread_layout(int shown, int total) {
  DIGITS_CHECK(shown >= 0 && shown <= total, "showing " << shown << " of " << total << " misread digits");
  MisreadLayout l;
  l.width = 2 * kGridMargin + text_width(misread_title(shown, total), kTitleScale);
  if (shown == 0) {
    l.top = kTopNone;
    l.height = l.top;
    return l;
  }
  l.columns = std::min(shown, kGridColumns);
  l.rows = (shown + l.columns - 1) / l.columns;
  l.top = kTopCells;
  l.width = std::max({l.width, 2 * kGridMargin + text_width(legend_text()), 2 * kGridMargin + l.columns * kGridCellW});
  l.height = l.top + l.rows * kGridCellH + kGridMargin;
  return l;
}

MisreadGrid misread_grid(const Dataset& test, const EvalResult& r, int max_items) {
  DIGITS_CHECK(max_items >= 0, "misread grid: max_items " << max_items << " < 0");
  DIGITS_CHECK(test.rows == 28 && test.cols == 28,
               "misread grid: test images are " << test.rows << " x " << test.cols << ", expected 28 x 28");
  MisreadGrid g;
  g.shown = misread_digits(test, r);
  g.total = int(g.shown.size());
  if (int(g.shown.size()) > max_items) g.shown.resize(size_t(max_items));
  const int shown = int(g.shown.size());
  g.layout = misread_layout(shown, g.total);
  g.image = RgbImage(g.layout.width, g.layout.height, kWhite);
  RgbImage& img = g.image;

  draw_text(img, kGridMargin, kTitleY, misread_title(shown, g.total), kText, kTitleScale);
  if (shown == 0) return g;
  int x = kGridMargin;
  for (size_t k = 0; k < std::size(kLegend); ++k) x = draw_text(img, x, kLegendY, kLegend[k], kLegendColour[k]);

  for (int i = 0; i < shown; ++i) {
    const Misread& m = g.shown[size_t(i)];
    const auto [dx, dy] = g.layout.digit_xy(i);
    // Frame one pixel outside the digit.
    for (int t = -1; t <= kGridDigit; ++t) {
      img.set(dx + t, dy - 1, kFrame);
      img.set(dx + t, dy + kGridDigit, kFrame);
      img.set(dx - 1, dy + t, kFrame);
      img.set(dx + kGridDigit, dy + t, kFrame);
    }
    // The digit, inverted (MNIST ink is 255 on 0) and scaled by pixel replication.
    const uint8_t* src = &test.images[size_t(m.index) * test.pixels()];
    for (int y = 0; y < kGridDigit; ++y)
      for (int xx = 0; xx < kGridDigit; ++xx) {
        const uint8_t v = uint8_t(255 - src[(y / kGridScale) * test.cols + xx / kGridScale]);
        img.set(dx + xx, dy + y, {v, v, v});
      }
    // "7>2 (98%)": true digit green, prediction red; centred under the digit.
    const int cell_x = dx - kDigitDX, cell_y = dy - kDigitDY;
    const std::string label = misread_label(m);
    int tx = cell_x + (kGridCellW - text_width(label)) / 2;
    tx = draw_text(img, tx, cell_y + kLabelDY, std::to_string(m.truth), kTrue);
    tx = draw_text(img, tx, cell_y + kLabelDY, ">", kText);
    tx = draw_text(img, tx, cell_y + kLabelDY, std::to_string(m.predicted), kPredicted);
    draw_text(img, tx, cell_y + kLabelDY, label.substr(label.find(' ')), kText);
    std::string index = "#";  // appended, not "#" + ...: GCC 12 gives a false -Wrestrict for operator+
    index += std::to_string(m.index);
    draw_text(img, cell_x + (kGridCellW - text_width(index)) / 2, cell_y + kIndexDY, index, kFaint);
  }
  return g;
}

}  // namespace digits
