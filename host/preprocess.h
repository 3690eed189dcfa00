// Reading a drawing the way MNIST was made (DESIGN section 5): grey-scale, invert when the ink is dark on a
// light background, crop to the ink, scale so the longer side is 20 px (aspect kept, anti-aliased), place in
// 28x28 with the centre of mass at the centre. Several digits side by side are segmented (connected
// components, merged when they overlap horizontally, split when too wide) and returned left to right.
// Pure functions: no I/O, no backend.
#pragma once

#include <array>
#include <vector>

#include "image_io.h"

namespace digits {

struct PreprocessOptions {
  bool multi_digit = true;        // false: treat all ink as one digit
  float min_ink_fraction = 0.0005f;  // less ink than this fraction of the canvas is "no digit"
  int min_ink_pixels = 12;        // ... or fewer ink pixels than this
};

// One 28x28 network input: white (1.0) digit on black (0.0), MNIST-like.
struct DigitInput {
  std::array<float, 28 * 28> pixels{};
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // the crop's box in the source image, [x0, x1) x [y0, y1)
};

struct Preprocessed {
  bool empty = true;               // no (or almost no) ink: report "no digit", never a guess
  bool inverted = false;           // the source was dark ink on a light background
  std::vector<DigitInput> digits;  // left to right; empty when `empty`
};

Preprocessed preprocess(const GrayImage& img, const PreprocessOptions& opt = {});

}  // namespace digits
