// RGB images and their PNG writer (image_io's, atomic: temporary file next to the target, fsync, rename).
#include "png_rgb.h"

#include "error.h"
#include "image_io.h"

namespace digits {

RgbImage::RgbImage(int w, int h, Rgb fill) : width(w), height(h) {
  DIGITS_CHECK(w >= 0 && h >= 0, "image size " << w << " x " << h);
  pixels.resize(size_t(w) * size_t(h) * 3);
  for (size_t i = 0; i < pixels.size(); i += 3) {
    pixels[i] = fill.r;
    pixels[i + 1] = fill.g;
    pixels[i + 2] = fill.b;
  }
}

void save_png_rgb(const std::string& path, const RgbImage& img) {
  if (img.width <= 0 || img.height <= 0 || img.pixels.size() != size_t(img.width) * img.height * 3 ||
      size_t(img.width) * img.height > kMaxImagePixels)
    DIGITS_FAIL(path << ": cannot save an RGB image of " << img.width << " x " << img.height << " with "
                     << img.pixels.size() << " bytes");
  save_png_pixels(path, img.width, img.height, 3, img.pixels.data());
}

}  // namespace digits
