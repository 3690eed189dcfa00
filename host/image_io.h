// Reading and writing grey images: PNG (libpng), JPEG (libjpeg), PGM/PPM (P2/P5/P3/P6, own parser).
// Colour is converted to grey (ITU-R BT.601 luma); alpha is composited onto white.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace digits {

// 8-bit grey image, row-major, 0 = black, 255 = white.
struct GrayImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // (height, width)
  uint8_t at(int x, int y) const { return pixels[size_t(y) * width + x]; }
};

// Images larger than this many pixels are refused before decoding (a decompression-bomb guard).
inline constexpr size_t kMaxImagePixels = size_t(1) << 26;  // 64 Mpixel, e.g. 8192 x 8192

// Decodes an image file by its content (magic bytes), not its name; "-" reads standard input.
// Throws digits::Error "<path>: <problem>" for unreadable, truncated, empty, oversized or non-image files.
GrayImage load_image(const std::string& path);
GrayImage decode_image(const std::vector<uint8_t>& bytes, const std::string& name_for_errors);

// Writes an 8-bit grey PNG with write_file_atomic (atomic_file.h).
void save_png(const std::string& path, const GrayImage& img);
// Writes an 8-bit PNG of `channels` 1 (grey) or 3 (RGB, interleaved) bytes per pixel, atomically.
// requires: pixels holds width * height * channels bytes.
void save_png_pixels(const std::string& path, int width, int height, int channels, const uint8_t* pixels);

}  // namespace digits
