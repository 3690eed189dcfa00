// Files that `digits eval` writes: the confusion matrix as CSV or JSON, and a colour PNG grid of the misread
// test digits ("true>predicted (confidence)" under each, drawn with a small built-in 5x7 bitmap font).
// Pure functions of an EvalResult and the test set, so they are tested without MNIST or a model.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mnist_idx.h"
#include "png_rgb.h"
#include "raster.h"  // the bitmap font
#include "trainer.h"

namespace digits {

// ---- output files ---------------------------------------------------------------------------------

enum class ConfusionFormat { Csv, Json };

// The format named by the file's extension (.csv or .json, any case).
// Throws digits::Error naming the file and the accepted extensions for anything else.
ConfusionFormat confusion_format(const std::string& path);

// "true\predicted,0,1,...,9" then one row per true digit: "3,0,1,1005,...".
std::string confusion_csv(const EvalResult& r);
// {"rows":"true","columns":"predicted","matrix":[[...10 ints...] x 10]}, matrix[true][predicted].
nlohmann::json confusion_json(const EvalResult& r);
// The same JSON as confusion_json, one matrix row per line.
std::string confusion_json_text(const EvalResult& r);

// Writes the matrix in the format of the path's extension, atomically (temporary file, then rename).
void write_confusion(const std::string& path, const EvalResult& r);

// Every test image's probabilities: a header "index,label,predicted,p0,...,p9", then one row per image in
// test-set order, each probability with 9 significant digits (it reads back as the same float).
// requires: r comes from evaluating `test`. Other tools (tests/interop) compare their outputs with it.
std::string probabilities_csv(const Dataset& test, const EvalResult& r);
// probabilities_csv(test, r), written atomically.
void write_probabilities(const std::string& path, const Dataset& test, const EvalResult& r);

// Throws digits::Error unless the path ends in .png (any case): "--misread x.jpg: ...".
void check_png_path(const std::string& path, const std::string& what);

// Fails early when `path` cannot be written: its directory is missing or read-only, or the path is a
// directory. `what` names the option in the message ("--confusion out/c.csv: directory out does not exist").
void check_output_writable(const std::string& path, const std::string& what);

// ---- misread digits -------------------------------------------------------------------------------

struct Misread {
  int index = 0;            // position in the test set
  int truth = 0, predicted = 0;
  float confidence = 0;     // the model's probability for `predicted` (the wrong class)
};

// Every test image whose prediction differs from its label, highest wrong-class confidence first (ties by
// index). requires: r comes from evaluating `test` (same count, predicted and probs filled).
std::vector<Misread> misread_digits(const Dataset& test, const EvalResult& r);

// The text under a cell: "7>2 (98%)" (confidence rounded down to a whole percent).
std::string misread_label(const Misread& m);

// Grid geometry, in pixels. Each cell holds the digit scaled kGridScale times (ink dark on white, in a light
// grey frame), then the label line, then the test-set index ("#1234").
inline constexpr int kGridColumns = 20;
inline constexpr int kGridScale = 2;
inline constexpr int kGridDigit = 28 * kGridScale;  // the scaled digit's side
inline constexpr int kGridCellW = 64, kGridCellH = 86;
inline constexpr int kGridMargin = 8;
inline constexpr int kGridDefaultMax = 200;

struct MisreadLayout {
  int width = 0, height = 0;
  int columns = 0, rows = 0;  // 0 when no cell is shown
  int top = 0;                // y of the first row of cells (below the title and legend)
  // Top-left corner of the i-th cell's scaled digit (kGridDigit x kGridDigit).
  std::array<int, 2> digit_xy(int i) const;
};
// The layout of a grid that shows `shown` of `total` misread digits.
MisreadLayout misread_layout(int shown, int total);
// The title line: "misread digits: 83 of 83 shown, most confident first", or "misread digits: none".
std::string misread_title(int shown, int total);

struct MisreadGrid {
  RgbImage image;
  MisreadLayout layout;
  std::vector<Misread> shown;  // the cells in order (the first max_items of misread_digits)
  int total = 0;               // misread digits in the whole test set
};

// requires: max_items >= 0, test.rows == test.cols == 28, r from evaluating `test`.
// ensures: a grid of the min(max_items, total) most confident misreads, kGridColumns per row, with a title
// and a colour legend; with no misread digit, a small image whose title says "none".
MisreadGrid misread_grid(const Dataset& test, const EvalResult& r, int max_items = kGridDefaultMax);

}  // namespace digits
