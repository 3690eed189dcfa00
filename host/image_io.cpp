// Image decoding for predict and the GUI: PNG (libpng), JPEG (libjpeg) and PGM/PPM/PBM (own parser),
// chosen by magic bytes, converted to 8-bit grey (BT.601 luma, alpha over white). Every failure is a
// digits::Error "<path>: <problem>"; sizes are checked against kMaxImagePixels before any pixel buffer is
// allocated. libpng and libjpeg report errors by longjmp: the functions that call setjmp hold only plain
// data, and every C++ object they touch lives in the caller, so no destructor is ever skipped.
#include "image_io.h"

#include <sys/stat.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <jpeglib.h>  // needs <cstdio> first
#include <jerror.h>
#include <png.h>

#include "atomic_file.h"
#include "error.h"

namespace digits {
namespace {

// Files larger than this are refused before reading: no image we accept needs more.
constexpr size_t kMaxFileBytes = size_t(1) << 30;

// ---------------------------------------------------------------------------------------------------------
// grey conversion

// ITU-R BT.601 luma in integers, rounded: Y = 0.299 R + 0.587 G + 0.114 B.
inline uint8_t luma(unsigned r, unsigned g, unsigned b) { return uint8_t((299 * r + 587 * g + 114 * b + 500) / 1000); }
// A grey value with alpha `a` composited over white.
inline uint8_t over_white(unsigned v, unsigned a) { return uint8_t((v * a + 255 * (255 - a) + 127) / 255); }

// One row of 8-bit samples with 1 (G), 2 (GA), 3 (RGB) or 4 (RGBA) channels to grey.
void row_to_grey(const uint8_t* in, int channels, int width, uint8_t* out) {
  for (int x = 0; x < width; ++x, in += channels) {
    switch (channels) {
      case 1: out[x] = in[0]; break;
      case 2: out[x] = over_white(in[0], in[1]); break;
      case 3: out[x] = luma(in[0], in[1], in[2]); break;
      default: out[x] = over_white(luma(in[0], in[1], in[2]), in[3]); break;
    }
  }
}

std::string too_large_message(uint64_t w, uint64_t h) {
  return "image is " + std::to_string(w) + " x " + std::to_string(h) + " pixels, more than the limit of " +
         std::to_string(kMaxImagePixels) + " pixels";
}

// Refuses zero and oversized dimensions; the product cannot overflow (each side is below 2^32).
void check_dimensions(uint64_t w, uint64_t h, const std::string& name) {
  if (w == 0 || h == 0)
    DIGITS_FAIL(name << ": image has no pixels (" << w << " x " << h << ")");
  if (w > 0xffffffffu || h > 0xffffffffu || w * h > kMaxImagePixels) DIGITS_FAIL(name << ": " << too_large_message(w, h));
}

// ---------------------------------------------------------------------------------------------------------
// PNG (libpng)

struct PngIo {
  const uint8_t* data = nullptr;  // reading
  size_t size = 0, pos = 0;
  char message[256] = {};  // the first error libpng (or we) reported
};

void png_on_error(png_structp png, png_const_charp msg) {
  auto* io = static_cast<PngIo*>(png_get_error_ptr(png));
  if (io && io->message[0] == '\0') std::snprintf(io->message, sizeof io->message, "%s", msg);
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}  // warnings (bad ancillary chunks) are not the user's problem

void png_read_memory(png_structp png, png_bytep out, size_t n) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  if (n > io->size - io->pos) png_error(png, "file is truncated (PNG data ends early)");
  std::memcpy(out, io->data + io->pos, n);
  io->pos += n;
}

// The setjmp frame: plain data only. `img`, `buf` and `rows` belong to the caller.
bool png_decode_body(png_structp png, png_infop info, PngIo* io, GrayImage* img, std::vector<uint8_t>* buf,
                     std::vector<png_bytep>* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, io, png_read_memory);
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &bit_depth, &color_type, &interlace, nullptr, nullptr);
  if (w == 0 || h == 0 || uint64_t(w) * h > kMaxImagePixels) {
    std::snprintf(io->message, sizeof io->message, "%s", too_large_message(w, h).c_str());
    return false;
  }
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (bit_depth == 16) png_set_scale_16(png);  // rounds, unlike strip_16
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (channels < 1 || channels > 4 || png_get_bit_depth(png, info) != 8 || rowbytes < size_t(w) * channels) {
    std::snprintf(io->message, sizeof io->message, "unsupported PNG layout");
    return false;
  }
  img->width = int(w);
  img->height = int(h);
  img->pixels.resize(size_t(w) * h);
  if (passes == 1) {  // stream row by row: no full-colour copy of the image
    buf->resize(rowbytes);
    for (png_uint_32 y = 0; y < h; ++y) {
      png_read_row(png, buf->data(), nullptr);
      row_to_grey(buf->data(), channels, int(w), img->pixels.data() + size_t(y) * w);
    }
  } else {  // Adam7 fills every row on each pass: keep them all
    buf->resize(rowbytes * h);
    rows->resize(h);
    for (png_uint_32 y = 0; y < h; ++y) (*rows)[y] = buf->data() + y * rowbytes;
    png_read_image(png, rows->data());
    for (png_uint_32 y = 0; y < h; ++y)
      row_to_grey((*rows)[y], channels, int(w), img->pixels.data() + size_t(y) * w);
  }
  // Trailing chunks (IEND) are not read: every pixel is in, and a missing IEND spoils nothing.
  return true;
}

// IHDR must come first (PNG spec 5.6): its size is checked here, before libpng reads further chunks.
void check_png_header(const std::vector<uint8_t>& b, const std::string& name) {
  if (b.size() < 24 || std::memcmp(b.data() + 12, "IHDR", 4) != 0) return;  // libpng reports what is wrong
  const auto be32 = [&](size_t i) { return uint32_t(b[i]) << 24 | uint32_t(b[i + 1]) << 16 | uint32_t(b[i + 2]) << 8 | b[i + 3]; };
  const uint64_t w = be32(16), h = be32(20);
  if (w > 0 && h > 0 && w * h > kMaxImagePixels) DIGITS_FAIL(name << ": " << too_large_message(w, h));
}

GrayImage decode_png(const std::vector<uint8_t>& bytes, const std::string& name) {
  check_png_header(bytes, name);
  PngIo io;
  io.data = bytes.data();
  io.size = bytes.size();
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, png_on_error, png_on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    DIGITS_FAIL(name << ": out of memory starting the PNG decoder");
  }
  GrayImage img;
  std::vector<uint8_t> buf;
  std::vector<png_bytep> rows;
  bool ok = false;
  try {
    ok = png_decode_body(png, info, &io, &img, &buf, &rows);
  } catch (...) {  // std::bad_alloc from our own resize: release libpng before passing it on
    png_destroy_read_struct(&png, &info, nullptr);
    throw;
  }
  png_destroy_read_struct(&png, &info, nullptr);
  if (!ok) DIGITS_FAIL(name << ": invalid PNG: " << (io.message[0] ? io.message : "unknown error"));
  return img;
}

// ---------------------------------------------------------------------------------------------------------
// JPEG (libjpeg / libjpeg-turbo)

struct JpegErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg hands us a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings are silent, except that data ending early (libjpeg would paint the rest grey) is an error.
void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof err->message, "file is truncated (JPEG data ends early)");
    std::longjmp(err->jump, 1);
  }
  cinfo->err->num_warnings++;
}

// The setjmp frame: plain data only. `img` and `row` belong to the caller.
bool jpeg_decode_body(jpeg_decompress_struct* cinfo, JpegErrorManager* err, const std::vector<uint8_t>* bytes,
                      GrayImage* img, std::vector<uint8_t>* row) {
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, bytes->data(), static_cast<unsigned long>(bytes->size()));
  if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK) {
    std::snprintf(err->message, sizeof err->message, "JPEG holds no image (tables only)");
    return false;
  }
  if (cinfo->image_width == 0 || cinfo->image_height == 0 ||
      uint64_t(cinfo->image_width) * cinfo->image_height > kMaxImagePixels) {
    std::snprintf(err->message, sizeof err->message, "%s",
                  too_large_message(cinfo->image_width, cinfo->image_height).c_str());
    return false;
  }
  const bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  if (!cmyk && cinfo->jpeg_color_space != JCS_GRAYSCALE && cinfo->jpeg_color_space != JCS_YCbCr &&
      cinfo->jpeg_color_space != JCS_RGB) {
    std::snprintf(err->message, sizeof err->message, "unsupported JPEG colour space");
    return false;
  }
  // Y of YCbCr is BT.601 luma already; libjpeg computes it for RGB JPEGs too.
  cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_GRAYSCALE;
  // Progressive files keep every coefficient in memory; bound it (there is no backing store).
  cinfo->mem->max_memory_to_use = 768L << 20;
  jpeg_start_decompress(cinfo);
  const int w = int(cinfo->output_width), h = int(cinfo->output_height), comps = cinfo->output_components;
  img->width = w;
  img->height = h;
  img->pixels.resize(size_t(w) * h);
  row->resize(size_t(w) * comps);
  // Adobe writes CMYK inverted (0 = full ink); that is what nearly every CMYK JPEG is.
  const bool inverted = cinfo->saw_Adobe_marker;
  while (cinfo->output_scanline < cinfo->output_height) {
    const int y = int(cinfo->output_scanline);
    JSAMPROW r = row->data();
    if (jpeg_read_scanlines(cinfo, &r, 1) != 1) {
      std::snprintf(err->message, sizeof err->message, "file is truncated (JPEG data ends early)");
      return false;
    }
    uint8_t* out = img->pixels.data() + size_t(y) * w;
    if (comps == 1) {
      std::memcpy(out, row->data(), size_t(w));
    } else {
      for (int x = 0; x < w; ++x) {
        const uint8_t* p = row->data() + size_t(x) * 4;
        unsigned c = p[0], m = p[1], yy = p[2], k = p[3];
        if (!inverted) c = 255 - c, m = 255 - m, yy = 255 - yy, k = 255 - k;
        out[x] = luma(c * k / 255, m * k / 255, yy * k / 255);
      }
    }
  }
  // No jpeg_finish_decompress: every pixel is in; a missing EOI marker spoils nothing.
  return true;
}

GrayImage decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& name) {
  jpeg_decompress_struct cinfo;
  JpegErrorManager err;
  std::memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_on_error;
  err.pub.emit_message = jpeg_on_message;
  err.message[0] = '\0';
  GrayImage img;
  std::vector<uint8_t> row;
  bool ok = false;
  try {
    ok = jpeg_decode_body(&cinfo, &err, &bytes, &img, &row);
  } catch (...) {
    jpeg_destroy_decompress(&cinfo);
    throw;
  }
  jpeg_destroy_decompress(&cinfo);  // also aborts a decode stopped half way
  if (!ok) DIGITS_FAIL(name << ": invalid JPEG: " << (err.message[0] ? err.message : "unknown error"));
  return img;
}

// ---------------------------------------------------------------------------------------------------------
// PGM / PPM / PBM: P1..P6 (Netpbm), own parser

class PnmParser {
 public:
  PnmParser(const std::vector<uint8_t>& bytes, const std::string& name) : b_(bytes), name_(name) {}

  GrayImage parse() {
    const char kind = char(b_[1]);
    pos_ = 2;
    const uint64_t w = header_number("width"), h = header_number("height");
    check_dimensions(w, h, name_);
    const bool bitmap = kind == '1' || kind == '4';
    const unsigned maxval = bitmap ? 1 : unsigned(header_number("maximum value"));
    if (maxval < 1 || maxval > 65535) DIGITS_FAIL(name_ << ": PNM maximum value " << maxval << " is outside 1..65535");
    const int channels = (kind == '3' || kind == '6') ? 3 : 1;
    const bool binary = kind >= '4';
    if (binary) {
      // Exactly one whitespace character separates the header from the raster.
      if (pos_ >= b_.size() || !is_space(b_[pos_])) DIGITS_FAIL(name_ << ": PNM header does not end in whitespace");
      ++pos_;
      const uint64_t bps = maxval > 255 ? 2 : 1;
      const uint64_t need = kind == '4' ? (w + 7) / 8 * h : w * h * channels * bps;
      if (b_.size() - pos_ < need)
        DIGITS_FAIL(name_ << ": file is truncated (needs " << need << " bytes of pixels, has " << b_.size() - pos_
                          << ")");
    }
    GrayImage img;
    img.width = int(w);
    img.height = int(h);
    img.pixels.resize(size_t(w * h));
    unsigned rgb[3] = {0, 0, 0};
    for (uint64_t y = 0; y < h; ++y) {
      for (uint64_t x = 0; x < w; ++x) {
        uint8_t v;
        if (kind == '4') {
          const uint8_t byte = b_[pos_ + y * ((w + 7) / 8) + x / 8];
          v = (byte >> (7 - x % 8)) & 1 ? 0 : 255;  // PBM: 1 is black
        } else if (kind == '1') {
          v = bitmap_digit() ? 0 : 255;
        } else {
          for (int c = 0; c < channels; ++c) rgb[c] = scale(binary ? binary_sample(maxval) : ascii_sample(maxval), maxval);
          v = channels == 3 ? luma(rgb[0], rgb[1], rgb[2]) : uint8_t(rgb[0]);
        }
        img.pixels[size_t(y * w + x)] = v;
      }
    }
    return img;
  }

 private:
  static bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
  static unsigned scale(unsigned v, unsigned maxval) { return (v * 255u + maxval / 2) / maxval; }

  void skip_space_and_comments() {
    while (pos_ < b_.size()) {
      if (b_[pos_] == '#') {
        while (pos_ < b_.size() && b_[pos_] != '\n' && b_[pos_] != '\r') ++pos_;
      } else if (is_space(b_[pos_])) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  uint64_t read_number(const char* what) {
    skip_space_and_comments();
    if (pos_ >= b_.size()) DIGITS_FAIL(name_ << ": file is truncated (PNM ends before the " << what << ")");
    if (b_[pos_] < '0' || b_[pos_] > '9') DIGITS_FAIL(name_ << ": PNM " << what << " is not a number");
    uint64_t v = 0;
    while (pos_ < b_.size() && b_[pos_] >= '0' && b_[pos_] <= '9') {
      v = v * 10 + (b_[pos_++] - '0');
      if (v > 0xffffffffull) DIGITS_FAIL(name_ << ": PNM " << what << " is too large");
    }
    return v;
  }

  uint64_t header_number(const char* what) {
    const uint64_t v = read_number(what);
    if (pos_ < b_.size() && !is_space(b_[pos_]) && b_[pos_] != '#')
      DIGITS_FAIL(name_ << ": PNM " << what << " is not a number");
    return v;
  }

  unsigned ascii_sample(unsigned maxval) {
    const uint64_t v = read_number("pixel data");
    if (v > maxval) DIGITS_FAIL(name_ << ": PNM sample " << v << " is larger than the maximum value " << maxval);
    return unsigned(v);
  }

  unsigned binary_sample(unsigned maxval) {  // size checked up front
    unsigned v = b_[pos_++];
    if (maxval > 255) v = (v << 8) | b_[pos_++];  // big-endian
    if (v > maxval) DIGITS_FAIL(name_ << ": PNM sample " << v << " is larger than the maximum value " << maxval);
    return v;
  }

  bool bitmap_digit() {  // P1 digits need no separators
    skip_space_and_comments();
    if (pos_ >= b_.size()) DIGITS_FAIL(name_ << ": file is truncated (PBM ends before its last pixel)");
    const uint8_t c = b_[pos_++];
    if (c != '0' && c != '1') DIGITS_FAIL(name_ << ": PBM pixel is not 0 or 1");
    return c == '1';
  }

  const std::vector<uint8_t>& b_;
  const std::string& name_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// format detection

bool starts_with(const std::vector<uint8_t>& b, const char* magic, size_t n) {
  return b.size() >= n && std::memcmp(b.data(), magic, n) == 0;
}

[[noreturn]] void fail_unknown_format(const std::vector<uint8_t>& b, const std::string& name) {
  const char* other = nullptr;
  if (starts_with(b, "GIF8", 4)) other = "GIF";
  else if (starts_with(b, "BM", 2)) other = "BMP";
  else if (starts_with(b, "RIFF", 4) && b.size() >= 12 && std::memcmp(b.data() + 8, "WEBP", 4) == 0) other = "WebP";
  else if (starts_with(b, "II*\0", 4) || starts_with(b, "MM\0*", 4)) other = "TIFF";
  if (other) DIGITS_FAIL(name << ": " << other << " images are not supported: convert it to PNG, JPEG or PGM");
  const size_t n = std::min<size_t>(b.size(), 512);
  bool text = true;
  for (size_t i = 0; i < n && text; ++i) text = b[i] >= 0x20 || b[i] == '\n' || b[i] == '\r' || b[i] == '\t';
  if (text) DIGITS_FAIL(name << ": not an image (it looks like text): expected a PNG, JPEG or PGM/PPM file");
  DIGITS_FAIL(name << ": not an image (unknown format): expected a PNG, JPEG or PGM/PPM file");
}

std::vector<uint8_t> read_stream(std::FILE* f, const std::string& name) {
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  for (;;) {
    const size_t n = std::fread(chunk, 1, sizeof chunk, f);
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (bytes.size() > kMaxFileBytes) DIGITS_FAIL(name << ": input is larger than " << (kMaxFileBytes >> 20) << " MiB");
    if (n < sizeof chunk) break;
  }
  if (std::ferror(f)) DIGITS_FAIL(name << ": read error: " << std::strerror(errno));
  return bytes;
}

// The PNG writer's setjmp frame: plain data only.
bool png_encode_body(png_structp png, png_infop info, std::FILE* f, int width, int height, int channels,
                     const uint8_t* pixels) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_init_io(png, f);
  png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), 8,
               channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t stride = size_t(width) * size_t(channels);
  for (int y = 0; y < height; ++y) png_write_row(png, const_cast<png_bytep>(pixels + size_t(y) * stride));
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// public API

GrayImage decode_image(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) DIGITS_FAIL(name << ": empty file (0 bytes)");
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n", 8)) return decode_png(bytes, name);
  if (starts_with(bytes, "\xff\xd8\xff", 3)) return decode_jpeg(bytes, name);
  if (bytes.size() >= 3 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '6' &&
      (std::strchr(" \t\n\r\v\f#", bytes[2]) != nullptr))
    return PnmParser(bytes, name).parse();
  fail_unknown_format(bytes, name);
}

GrayImage load_image(const std::string& path) {
  if (path == "-") return decode_image(read_stream(stdin, "<stdin>"), "<stdin>");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) DIGITS_FAIL(path << ": cannot open: " << std::strerror(errno));
  struct stat st {};
  if (fstat(fileno(f), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      std::fclose(f);
      DIGITS_FAIL(path << ": is a directory, not an image file");
    }
    if (S_ISREG(st.st_mode) && uint64_t(st.st_size) > kMaxFileBytes) {
      std::fclose(f);
      DIGITS_FAIL(path << ": file is larger than " << (kMaxFileBytes >> 20) << " MiB");
    }
  }
  std::vector<uint8_t> bytes;
  try {
    bytes = read_stream(f, path);
  } catch (...) {
    std::fclose(f);
    throw;
  }
  std::fclose(f);
  return decode_image(bytes, path);
}

void save_png_pixels(const std::string& path, int width, int height, int channels, const uint8_t* pixels) {
  DIGITS_CHECK(channels == 1 || channels == 3, path << ": cannot save a PNG of " << channels << " channels");
  write_file_atomic(path, [&](std::FILE* f) -> std::string {
    PngIo io;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    const bool ok = info && png_encode_body(png, info, f, width, height, channels, pixels);
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return ok ? std::string() : std::string("PNG encoder failed: ") + (io.message[0] ? io.message : "out of memory");
  });
}

void save_png(const std::string& path, const GrayImage& img) {
  if (img.width <= 0 || img.height <= 0 || img.pixels.size() != size_t(img.width) * img.height)
    DIGITS_FAIL(path << ": cannot save an image of " << img.width << " x " << img.height << " with "
                     << img.pixels.size() << " pixels");
  save_png_pixels(path, img.width, img.height, 1, img.pixels.data());
}

}  // namespace digits
