// RGB PNG writing with libpng: a temporary file next to the target, fsync, rename (atomic replace).
#include "png_rgb.h"

#include <fcntl.h>
#include <png.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>

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

namespace {

struct PngErr {
  char message[256] = {};  // the first error libpng reported
};

void on_error(png_structp png, png_const_charp msg) {
  auto* e = static_cast<PngErr*>(png_get_error_ptr(png));
  if (e && e->message[0] == '\0') std::snprintf(e->message, sizeof e->message, "%s", msg);
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

// The setjmp frame: plain data only (no destructors are skipped by longjmp).
bool encode_body(png_structp png, png_infop info, std::FILE* f, const RgbImage* img) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_init_io(png, f);
  png_set_IHDR(png, info, png_uint_32(img->width), png_uint_32(img->height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t stride = size_t(img->width) * 3;
  for (int y = 0; y < img->height; ++y)
    png_write_row(png, const_cast<png_bytep>(img->pixels.data() + size_t(y) * stride));
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

void save_png_rgb(const std::string& path, const RgbImage& img) {
  if (img.width <= 0 || img.height <= 0 || img.pixels.size() != size_t(img.width) * img.height * 3 ||
      size_t(img.width) * img.height > kMaxImagePixels)
    DIGITS_FAIL(path << ": cannot save an RGB image of " << img.width << " x " << img.height << " with "
                     << img.pixels.size() << " bytes");
  static std::atomic<unsigned> counter{0};
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) DIGITS_FAIL(path << ": cannot create a temporary file: " << std::strerror(errno));
  std::FILE* f = ::fdopen(fd, "wb");
  if (!f) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    DIGITS_FAIL(path << ": cannot write: " << std::strerror(e));
  }
  PngErr err;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  const bool ok = info && encode_body(png, info, f, &img);
  png_destroy_write_struct(&png, info ? &info : nullptr);
  std::string problem;
  if (!ok) problem = std::string("PNG encoder failed: ") + (err.message[0] ? err.message : "out of memory");
  if (std::fflush(f) != 0 || std::ferror(f)) problem = std::string("write error: ") + std::strerror(errno);
  if (problem.empty() && ::fsync(::fileno(f)) != 0) problem = std::string("cannot flush to disk: ") + std::strerror(errno);
  if (std::fclose(f) != 0 && problem.empty()) problem = std::string("write error: ") + std::strerror(errno);
  if (problem.empty() && std::rename(tmp.c_str(), path.c_str()) != 0)
    problem = std::string("cannot rename the temporary file into place: ") + std::strerror(errno);
  if (!problem.empty()) {
    ::unlink(tmp.c_str());
    DIGITS_FAIL(path << ": " << problem);
  }
}

}  // namespace digits
