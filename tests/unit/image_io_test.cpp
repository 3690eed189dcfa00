// image_io: PNG / JPEG / PGM-PPM-PBM decoding to grey, save_png, and hostile inputs (empty, truncated, random,
// huge declared sizes, text). Test images are written here with libpng and libjpeg directly.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

#include "error.h"
#include "image_io.h"

namespace digits {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------------------------------------
// helpers: temporary files, encoders

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("digits_image_io_" + std::to_string(getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

Bytes text_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

struct PngSpec {
  int width = 0, height = 0;
  int color_type = PNG_COLOR_TYPE_GRAY;
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<png_color> palette;  // PNG_COLOR_TYPE_PALETTE
  std::vector<uint8_t> trns;       // palette alpha
  Bytes rows;                      // packed rows as stored in the file (16-bit samples big-endian)
};

void png_append(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<Bytes*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void png_no_flush(png_structp) {}

// Plain data only in the setjmp frame.
bool png_encode(png_structp png, png_infop info, const PngSpec* s, Bytes* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, out, png_append, png_no_flush);
  png_set_IHDR(png, info, png_uint_32(s->width), png_uint_32(s->height), s->bit_depth, s->color_type,
               s->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!s->palette.empty()) png_set_PLTE(png, info, s->palette.data(), int(s->palette.size()));
  if (!s->trns.empty()) png_set_tRNS(png, info, s->trns.data(), int(s->trns.size()), nullptr);
  png_write_info(png, info);
  const size_t stride = s->rows.size() / size_t(s->height);
  std::vector<png_bytep> rows(size_t(s->height));  // constructed before any libpng call can jump: still alive after
  for (int y = 0; y < s->height; ++y) rows[size_t(y)] = const_cast<png_bytep>(s->rows.data() + size_t(y) * stride);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  return true;
}

Bytes encode_png(const PngSpec& s) {
  Bytes out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  const bool ok = png_encode(png, info, &s, &out);
  png_destroy_write_struct(&png, &info);
  EXPECT_TRUE(ok) << "test PNG encoder failed";
  return out;
}

Bytes encode_jpeg(int w, int h, int components, const Bytes& pixels, int quality = 95) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* mem = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &mem, &size);
  c.image_width = JDIMENSION(w);
  c.image_height = JDIMENSION(h);
  c.input_components = components;
  c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels.data() + size_t(c.next_scanline) * w * components);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes out(mem, mem + size);
  std::free(mem);
  return out;
}

// A smooth test pattern with some texture, so compressed data is not trivially small.
Bytes pattern(int w, int h, int channels, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  Bytes p(size_t(w) * h * channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        p[(size_t(y) * w + x) * channels + c] = uint8_t((x * 255 / std::max(1, w - 1) + y * 3 + c * 70 + rng() % 8) & 0xff);
  return p;
}

uint8_t luma(int r, int g, int b) { return uint8_t((299 * r + 587 * g + 114 * b + 500) / 1000); }
uint8_t over_white(int v, int a) { return uint8_t((v * a + 255 * (255 - a) + 127) / 255); }

// Expects decode to throw digits::Error whose message starts with "<name>: " and contains `needle`.
void expect_refused(const Bytes& bytes, const std::string& needle, const std::string& name = "test.img") {
  try {
    decode_image(bytes, name);
    ADD_FAILURE() << "decoded, but should have been refused (" << needle << ")";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(name + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nwanted: " << needle;
  }
}

long peak_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

uint32_t crc32_of(const uint8_t* p, size_t n) {  // PNG's CRC-32 (the zlib polynomial), bitwise
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v);
}

// ---------------------------------------------------------------------------------------------------------
// PNG

TEST(ImageIoPng, SaveThenLoadRoundTripsGrey) {
  TempDir dir;
  GrayImage img{37, 23, pattern(37, 23, 1)};
  save_png(dir.file("a.png"), img);
  const GrayImage back = load_image(dir.file("a.png"));
  EXPECT_EQ(back.width, 37);
  EXPECT_EQ(back.height, 23);
  EXPECT_EQ(back.pixels, img.pixels);
}

TEST(ImageIoPng, DecodesRgbAsBt601Luma) {
  const int w = 16, h = 9;
  PngSpec s{w, h, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, pattern(w, h, 3)};
  const GrayImage g = decode_image(encode_png(s), "rgb.png");
  ASSERT_EQ(g.width, w);
  ASSERT_EQ(g.height, h);
  for (size_t i = 0; i < g.pixels.size(); ++i)
    ASSERT_EQ(g.pixels[i], luma(s.rows[3 * i], s.rows[3 * i + 1], s.rows[3 * i + 2])) << i;
  // The primaries, exactly: BT.601 weights 0.299, 0.587, 0.114.
  PngSpec prim{3, 1, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, {255, 0, 0, 0, 255, 0, 0, 0, 255}};
  EXPECT_EQ(decode_image(encode_png(prim), "p.png").pixels, (Bytes{76, 150, 29}));
}

TEST(ImageIoPng, CompositesRgbaAndGreyAlphaOnWhite) {
  PngSpec rgba{4, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, false, {}, {},
               {0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 128, 200, 100, 50, 255}};
  EXPECT_EQ(decode_image(encode_png(rgba), "a.png").pixels, (Bytes{255, 0, over_white(0, 128), luma(200, 100, 50)}));
  PngSpec ga{3, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, false, {}, {}, {10, 0, 10, 255, 100, 64}};
  EXPECT_EQ(decode_image(encode_png(ga), "ga.png").pixels, (Bytes{255, 10, over_white(100, 64)}));
}

TEST(ImageIoPng, Scales16BitToEightWithRounding) {
  const uint16_t v[4] = {0, 257 * 100, 65535, 257 * 200 + 128};
  PngSpec s{4, 1, PNG_COLOR_TYPE_GRAY, 16, false, {}, {}, {}};
  for (uint16_t x : v) s.rows.push_back(uint8_t(x >> 8)), s.rows.push_back(uint8_t(x & 0xff));
  const GrayImage g = decode_image(encode_png(s), "16.png");
  ASSERT_EQ(g.pixels.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(g.pixels[size_t(i)], v[i] / 257.0, 0.5 + 1e-9) << i;
  // 16-bit RGBA too.
  PngSpec c{1, 1, PNG_COLOR_TYPE_RGB_ALPHA, 16, false, {}, {}, {0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff}};
  EXPECT_EQ(decode_image(encode_png(c), "16c.png").pixels, (Bytes{luma(255, 0, 0)}));
}

TEST(ImageIoPng, DecodesPaletteWithTransparencyAndLowBitDepthGrey) {
  PngSpec pal{3, 1, PNG_COLOR_TYPE_PALETTE, 8, false, {{0, 0, 0}, {255, 0, 0}, {0, 0, 255}}, {255, 255, 0}, {0, 1, 2}};
  EXPECT_EQ(decode_image(encode_png(pal), "pal.png").pixels, (Bytes{0, luma(255, 0, 0), 255}));
  // 1-bit grey, 8 pixels in one byte: 10110000 -> white black white white black...
  PngSpec bits{5, 1, PNG_COLOR_TYPE_GRAY, 1, false, {}, {}, {0xb0}};
  EXPECT_EQ(decode_image(encode_png(bits), "1bit.png").pixels, (Bytes{255, 0, 255, 255, 0}));
}

TEST(ImageIoPng, DecodesInterlaced) {
  const int w = 21, h = 13;
  PngSpec s{w, h, PNG_COLOR_TYPE_GRAY, 8, true, {}, {}, pattern(w, h, 1, 7)};
  const GrayImage g = decode_image(encode_png(s), "adam7.png");
  EXPECT_EQ(g.pixels, s.rows);
}

TEST(ImageIoPng, DecodesOnePixel) {
  PngSpec s{1, 1, PNG_COLOR_TYPE_GRAY, 8, false, {}, {}, {42}};
  const GrayImage g = decode_image(encode_png(s), "1x1.png");
  EXPECT_EQ(g.width, 1);
  EXPECT_EQ(g.height, 1);
  EXPECT_EQ(g.pixels, Bytes{42});
}

TEST(ImageIoPng, RefusesTruncatedFile) {
  const int w = 64, h = 64;
  const Bytes full = encode_png({w, h, PNG_COLOR_TYPE_RGB, 8, false, {}, {}, pattern(w, h, 3)});
  for (size_t keep : {size_t(8), size_t(20), size_t(40), full.size() / 2, full.size() - 20})
    expect_refused(Bytes(full.begin(), full.begin() + std::ptrdiff_t(keep)), "invalid PNG");
}

TEST(ImageIoPng, RefusesCorruptData) {
  Bytes b = encode_png({32, 32, PNG_COLOR_TYPE_GRAY, 8, false, {}, {}, pattern(32, 32, 1)});
  for (size_t i = 60; i < b.size() - 12; ++i) b[i] ^= 0x5a;  // inside IDAT: bad CRC / bad zlib data
  expect_refused(b, "invalid PNG");
}

TEST(ImageIoPng, RefusesHugeDeclaredSizeBeforeAllocating) {
  // A valid signature and IHDR declaring 100000 x 100000 (10^10 pixels), and nothing else.
  Bytes b(16 + 13 + 4, 0);  // sized once: growing a braced vector trips a GCC 12 -Warray-bounds false positive
  const uint8_t head[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  std::copy(head, head + 16, b.begin());
  put_be32(&b[16], 100000);
  put_be32(&b[20], 100000);
  b[24] = 8;  // bit depth; colour type 0 (grey)
  put_be32(&b[29], crc32_of(&b[12], 17));
  const long before = peak_rss_kib();
  expect_refused(b, "limit");
  EXPECT_LT(peak_rss_kib() - before, 64 * 1024) << "KiB of peak memory grew while refusing";
  // Zero width is refused by libpng itself.
  put_be32(&b[16], 0);
  put_be32(&b[29], crc32_of(&b[12], 17));
  expect_refused(b, "invalid PNG");
}

TEST(ImageIoPng, SaveIsAtomicAndOverwrites) {
  TempDir dir;
  const std::string path = dir.file("out.png");
  save_png(path, GrayImage{2, 2, {1, 2, 3, 4}});
  save_png(path, GrayImage{3, 1, {9, 8, 7}});
  EXPECT_EQ(load_image(path).pixels, (Bytes{9, 8, 7}));
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(e.path().filename(), "out.png");
  }
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
}

TEST(ImageIoPng, SaveReportsBadPathsAndImages) {
  TempDir dir;
  const std::string bad = dir.file("no/such/dir/x.png");
  try {
    save_png(bad, GrayImage{1, 1, {0}});
    ADD_FAILURE() << "saved into a missing directory";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(bad + ": ", 0), 0u) << e.what();
  }
  EXPECT_THROW(save_png(dir.file("y.png"), GrayImage{2, 2, {0}}), Error);  // pixel count does not match
  EXPECT_THROW(save_png(dir.file("z.png"), GrayImage{}), Error);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// ---------------------------------------------------------------------------------------------------------
// JPEG

TEST(ImageIoJpeg, GreyRoundTripIsClose) {
  const int w = 40, h = 30;
  const Bytes px = pattern(w, h, 1);
  const GrayImage g = decode_image(encode_jpeg(w, h, 1, px), "g.jpg");
  ASSERT_EQ(g.width, w);
  ASSERT_EQ(g.height, h);
  double err = 0;
  for (size_t i = 0; i < px.size(); ++i) err += std::abs(int(g.pixels[i]) - int(px[i]));
  EXPECT_LT(err / double(px.size()), 3.0);
}

TEST(ImageIoJpeg, RgbDecodesToLuma) {
  const int w = 32, h = 32;
  Bytes px(size_t(w) * h * 3);
  for (size_t i = 0; i < px.size(); i += 3) px[i] = 200, px[i + 1] = 60, px[i + 2] = 20;  // flat orange
  const GrayImage g = decode_image(encode_jpeg(w, h, 3, px), "c.jpg");
  for (uint8_t v : g.pixels) ASSERT_NEAR(v, luma(200, 60, 20), 3);
}

TEST(ImageIoJpeg, RefusesTruncatedAndCorrupt) {
  const int w = 64, h = 48;
  const Bytes full = encode_jpeg(w, h, 3, pattern(w, h, 3));
  for (size_t keep : {size_t(3), size_t(50), full.size() * 6 / 10})
    expect_refused(Bytes(full.begin(), full.begin() + std::ptrdiff_t(keep)), "invalid JPEG");
  Bytes junk = {0xff, 0xd8, 0xff};
  std::mt19937 rng(3);
  for (int i = 0; i < 500; ++i) junk.push_back(uint8_t(rng()));
  expect_refused(junk, "invalid JPEG");
}

TEST(ImageIoJpeg, RefusesHugeDeclaredSizeBeforeAllocating) {
  Bytes b = encode_jpeg(16, 16, 1, pattern(16, 16, 1));
  // SOF0: FF C0, length (2), precision (1), height (2), width (2).
  size_t sof = 0;
  for (size_t i = 2; i + 8 < b.size(); ++i)
    if (b[i] == 0xff && b[i + 1] == 0xc0) {
      sof = i;
      break;
    }
  ASSERT_GT(sof, 0u);
  b[sof + 5] = 0xea, b[sof + 6] = 0x60;  // 60000
  b[sof + 7] = 0xea, b[sof + 8] = 0x60;
  const long before = peak_rss_kib();
  expect_refused(b, "limit");
  EXPECT_LT(peak_rss_kib() - before, 64 * 1024);
}

// ---------------------------------------------------------------------------------------------------------
// PGM / PPM / PBM

TEST(ImageIoPnm, AsciiGreyWithCommentsAndMaxval) {
  const GrayImage g = decode_image(text_bytes("P2\n# a comment\n3 2 # trailing\n15\n0 15 7\n  8\t1 15\n"), "a.pgm");
  ASSERT_EQ(g.width, 3);
  ASSERT_EQ(g.height, 2);
  // v * 255 / 15, rounded
  EXPECT_EQ(g.pixels, (Bytes{0, 255, 119, 136, 17, 255}));
}

TEST(ImageIoPnm, BinaryGrey8And16Bit) {
  Bytes p5 = text_bytes("P5 2 2 255\n");
  for (uint8_t v : {0, 100, 200, 255}) p5.push_back(v);
  EXPECT_EQ(decode_image(p5, "b.pgm").pixels, (Bytes{0, 100, 200, 255}));
  Bytes p16 = text_bytes("P5\n2 1\n65535\n");
  for (uint8_t v : {0xff, 0xff, 0x80, 0x00}) p16.push_back(v);
  EXPECT_EQ(decode_image(p16, "c.pgm").pixels, (Bytes{255, 128}));
}

TEST(ImageIoPnm, ColourAsciiAndBinaryToLuma) {
  EXPECT_EQ(decode_image(text_bytes("P3 2 1 255 255 0 0  10 20 30"), "a.ppm").pixels,
            (Bytes{luma(255, 0, 0), luma(10, 20, 30)}));
  Bytes p6 = text_bytes("P6 1 1 255\n");
  for (uint8_t v : {0, 255, 0}) p6.push_back(v);
  EXPECT_EQ(decode_image(p6, "b.ppm").pixels, (Bytes{luma(0, 255, 0)}));
}

TEST(ImageIoPnm, Bitmaps) {
  EXPECT_EQ(decode_image(text_bytes("P1 3 2\n101\n0 1 0"), "a.pbm").pixels, (Bytes{0, 255, 0, 255, 0, 255}));
  Bytes p4 = text_bytes("P4 10 1\n");
  p4.push_back(0x80), p4.push_back(0x40);  // pixel 0 and pixel 9 black
  EXPECT_EQ(decode_image(p4, "b.pbm").pixels, (Bytes{0, 255, 255, 255, 255, 255, 255, 255, 255, 0}));
}

TEST(ImageIoPnm, RefusesBadHeadersAndData) {
  expect_refused(text_bytes("P5 0 4 255\n"), "no pixels");
  expect_refused(text_bytes("P5 4 4 0\n"), "maximum value");
  expect_refused(text_bytes("P5 4 4 70000\n"), "maximum value");
  expect_refused(text_bytes("P2 2 1 15 3 16"), "larger than the maximum");
  expect_refused(text_bytes("P2 2 2 15 3 4 5"), "truncated");
  expect_refused(text_bytes("P5 4 4 255\nabc"), "truncated");
  expect_refused(text_bytes("P5 x 4 255\n"), "not a number");
  expect_refused(text_bytes("P2 99999999999 4 255\n"), "too large");
  expect_refused(text_bytes("P6 2 2"), "truncated");
}

TEST(ImageIoPnm, RefusesHugeDeclaredSizeBeforeAllocating) {
  const long before = peak_rss_kib();
  expect_refused(text_bytes("P5 100000 100000 255\n\x01\x02"), "limit");
  expect_refused(text_bytes("P2 9000 9000 255\n1 2 3"), "limit");  // 81 Mpixel
  EXPECT_LT(peak_rss_kib() - before, 64 * 1024);
}

// ---------------------------------------------------------------------------------------------------------
// files, detection, hostile input

TEST(ImageIoFiles, RefusesEmptyFile) {
  TempDir dir;
  write_file(dir.file("empty.png"), {});
  try {
    load_image(dir.file("empty.png"));
    ADD_FAILURE() << "an empty file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir.file("empty.png") + ": empty file (0 bytes)");
  }
}

TEST(ImageIoFiles, RefusesMissingFileAndDirectory) {
  TempDir dir;
  try {
    load_image(dir.file("missing.png"));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir.file("missing.png") + ": cannot open", 0), 0u) << e.what();
  }
  EXPECT_THROW(load_image(dir.path().string()), Error);
}

TEST(ImageIoFiles, RefusesTextRandomBytesAndOtherFormats) {
  expect_refused(text_bytes("hello, this is not an image\n"), "looks like text");
  expect_refused(text_bytes("P9 is not a netpbm kind\n"), "looks like text");
  std::mt19937 rng(42);
  for (int trial = 0; trial < 20; ++trial) {
    Bytes junk(size_t(1 + rng() % 2000));
    for (auto& v : junk) v = uint8_t(rng());
    if (junk[0] == 0x89 || junk[0] == 0xff || junk[0] == 'P') junk[0] = 0;
    expect_refused(junk, "not an image");
  }
  Bytes png_like = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  for (int i = 0; i < 300; ++i) png_like.push_back(uint8_t(rng()));
  expect_refused(png_like, "invalid PNG");
  expect_refused(text_bytes("GIF89a......"), "GIF images are not supported");
}

TEST(ImageIoFiles, DetectsFormatByContentNotName) {
  TempDir dir;
  save_png(dir.file("really_a_png.jpg"), GrayImage{1, 2, {3, 4}});
  EXPECT_EQ(load_image(dir.file("really_a_png.jpg")).pixels, (Bytes{3, 4}));
}

TEST(ImageIoFiles, ReadsStandardInput) {
  TempDir dir;
  write_file(dir.file("in.pgm"), text_bytes("P2 2 1 255 7 9"));
  const int saved = dup(0);
  ASSERT_GE(saved, 0);
  const int fd = open(dir.file("in.pgm").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_GE(dup2(fd, 0), 0);
  close(fd);
  std::clearerr(stdin);
  GrayImage g;
  EXPECT_NO_THROW(g = load_image("-"));
  dup2(saved, 0);
  close(saved);
  std::clearerr(stdin);
  EXPECT_EQ(g.pixels, (Bytes{7, 9}));
}

}  // namespace
}  // namespace digits
