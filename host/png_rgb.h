// 8-bit RGB images and an RGB PNG writer (libpng), for reports that need colour (the eval misread grid).
// Reading stays with image_io.h, which turns any PNG into grey.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace digits {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

// 8-bit RGB image, row-major, interleaved.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // (height, width, 3)

  RgbImage() = default;
  // requires: width, height >= 0. ensures: every pixel is `fill`.
  RgbImage(int w, int h, Rgb fill);
  Rgb at(int x, int y) const {
    const uint8_t* p = &pixels[(size_t(y) * width + x) * 3];
    return {p[0], p[1], p[2]};
  }
  // Pixels outside the image are ignored (drawing code may clip).
  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &pixels[(size_t(y) * width + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
};

// Writes an 8-bit RGB PNG atomically (temporary file in the same directory, then rename): a failure
// leaves any previous file intact. Throws digits::Error "<path>: <problem>".
void save_png_rgb(const std::string& path, const RgbImage& img);

}  // namespace digits
