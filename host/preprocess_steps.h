// The steps of preprocess() (preprocess.h) that read photographs, exposed for its tests: shrinking, the
// background (paper or board without the writing, under its uneven light), the contrast against it, the
// noise floor and Otsu's threshold, ruled-line removal, and the photograph's ink map they make together.
#pragma once

#include <cstdint>
#include <vector>

#include "image_io.h"

namespace digits::steps {

inline constexpr int kMinContrast = 32;  // grey levels between background and the strongest ink; less is "no ink"

// Float image, row-major.
struct Plane {
  int w = 0, h = 0;
  std::vector<float> v;
  float& at(int x, int y) { return v[size_t(y) * w + x]; }
  float at(int x, int y) const { return v[size_t(y) * w + x]; }
};

// Integer box-average by `f` (each output pixel is the mean of an f x f block, partial blocks at the edges).
GrayImage shrink(const GrayImage& img, int f);

// Dark ink on light paper (true) or light on dark, from the thin deviations (beyond both the local median and
// the closing or opening) on the coarse copy, or at full resolution when those are weak and unclear.
bool dark_ink(const GrayImage& img);

// The background without the writing, on a copy shrunk by *factor (closing for dark ink, opening for light).
Plane background(const GrayImage& img, bool dark_ink, int* factor);

// Full-size contrast against the background: (bg - v) / bg for dark ink, (v - bg) / (255 - bg) for light.
Plane contrast_map(const GrayImage& img, bool dark_ink);

// The background's noise in contrast units (a robust sigma), and Otsu's threshold over the values above lo.
float noise_sigma(const Plane& contrast);
float otsu_threshold(const Plane& contrast, float lo);

// Clears ruled lines (long, thin, nearly straight, at the sheet's angle up to 15 degrees; and their broken
// remains along the same lines) from a 0/1 mask; returns the pixels cleared.
int clear_lines(std::vector<uint8_t>& mask, int w, int h);

// A photograph's ink in [0, 1] (full size; empty when there is too little contrast); *dark_ink as above.
Plane photo_ink(const GrayImage& img, bool* dark_ink);

}  // namespace digits::steps
