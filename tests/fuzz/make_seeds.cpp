// Writes the fuzzers' seed corpora: small valid (and a few nearly valid) files of every kind each reader
// accepts, all drawn here from simple patterns (never MNIST bytes). scripts/fuzz.sh runs it once per build.
// Usage: digits_fuzz_seeds OUTDIR   -> OUTDIR/{idx,safetensors,image}/<name>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <jpeglib.h>  // needs <cstdio> first
#include <png.h>
#include <zlib.h>

namespace {

using Bytes = std::vector<uint8_t>;
std::string g_out;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "digits_fuzz_seeds: %s\n", what.c_str());
  std::exit(1);
}

void write(const std::string& sub, const std::string& name, const Bytes& b) {
  const std::string path = g_out + "/" + sub + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(b.data(), 1, b.size(), f) != b.size() || std::fclose(f) != 0) die("cannot write " + path);
}

// A 16x16 grey "digit": a ring (a 0) or a bar (a 1) in white on black.
std::vector<uint8_t> digit_pixels(int w, int h, bool ring) {
  std::vector<uint8_t> p(size_t(w) * h, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int dx = 2 * x - w + 1, dy = 2 * y - h + 1;
      const int r2 = dx * dx + dy * dy;
      const bool ink = ring ? (r2 > (w * w) / 5 && r2 < (w * w) / 2) : (x >= w / 2 - 1 && x <= w / 2 && y > 1 && y < h - 2);
      p[size_t(y) * w + x] = ink ? 255 : 0;
    }
  return p;
}

// ---- IDX ---------------------------------------------------------------------------------------------
Bytes idx(const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes b = {0, 0, 0x08, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes gzip(const Bytes& in) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2");
  Bytes out(deflateBound(&z, uLong(in.size())) + 32);
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = uInt(in.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) die("deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// fuzz_idx input: mode byte, [2-byte cut for split modes], payload.
Bytes idx_input(uint8_t mode, const Bytes& a, const Bytes& b = {}) {
  Bytes in = {mode};
  if (mode & 2) {
    in.push_back(uint8_t(a.size() >> 8));
    in.push_back(uint8_t(a.size()));
  }
  in.insert(in.end(), a.begin(), a.end());
  in.insert(in.end(), b.begin(), b.end());
  return in;
}

void idx_seeds() {
  const uint32_t n = 3;
  Bytes pixels;
  for (uint32_t i = 0; i < n; ++i) {
    const auto p = digit_pixels(6, 6, i % 2 == 0);
    pixels.insert(pixels.end(), p.begin(), p.end());
  }
  const Bytes images = idx({n, 6, 6}, pixels), labels = idx({n}, {0, 1, 9});
  write("idx", "images_raw", idx_input(0, images));
  write("idx", "images_gzip", idx_input(1, images));
  write("idx", "labels_raw", idx_input(0, labels));
  write("idx", "labels_gzip_file", idx_input(0, gzip(labels)));
  write("idx", "four_dims", idx_input(0, idx({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})));
  write("idx", "split_raw", idx_input(2, images, labels));
  write("idx", "split_gzip", idx_input(3, images, labels));
  write("idx", "split_bad_label", idx_input(2, images, idx({n}, {0, 10, 2})));
  write("idx", "split_count_mismatch", idx_input(2, images, idx({n + 1}, {0, 1, 2, 3})));
  write("idx", "truncated", idx_input(0, Bytes(images.begin(), images.end() - 5)));
}

// ---- safetensors -------------------------------------------------------------------------------------
struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
};

Bytes safetensors(const std::string& spec, const std::vector<Tensor>& tensors, bool with_metadata = true) {
  std::string header = "{";
  if (with_metadata)
    header += "\"__metadata__\":{\"format\":\"digits-model-1\",\"spec\":\"" + spec +
              "\",\"preset\":\"custom\",\"input_scale\":\"0.00392156862745098\"},";
  uint64_t offset = 0;
  std::vector<float> data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    uint64_t numel = 1;
    std::string shape = "[";
    for (size_t k = 0; k < tensors[i].shape.size(); ++k) {
      numel *= uint64_t(tensors[i].shape[k]);
      shape += (k ? "," : "") + std::to_string(tensors[i].shape[k]);
    }
    shape += "]";
    header += (i ? "," : "") + std::string("\"") + tensors[i].name + "\":{\"dtype\":\"F32\",\"shape\":" + shape +
              ",\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + 4 * numel) + "]}";
    offset += 4 * numel;
    for (uint64_t k = 0; k < numel; ++k) data.push_back(float(int(k % 7) - 3) * 0.125f);
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  Bytes b(8);
  const uint64_t len = header.size();
  for (int i = 0; i < 8; ++i) b[size_t(i)] = uint8_t(len >> (8 * i));
  b.insert(b.end(), header.begin(), header.end());
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  b.insert(b.end(), p, p + 4 * data.size());
  return b;
}

void safetensors_seeds() {
  // Small networks whose weights match their specs (input 1x28x28).
  write("safetensors", "dense", safetensors("maxpool(14) flatten dense(10)", {{"2.weight", {10, 4}}, {"2.bias", {10}}}));
  write("safetensors", "conv",
        safetensors("conv(1,3) relu maxpool(13) flatten dense(10)",
                    {{"0.weight", {1, 1, 3, 3}}, {"0.bias", {1}}, {"4.weight", {10, 4}}, {"4.bias", {10}}}));
  write("safetensors", "same_dropout",
        safetensors("conv(1,5,same) maxpool(14) flatten dropout(0.5) dense(10)",
                    {{"0.weight", {1, 1, 5, 5}}, {"0.bias", {1}}, {"4.weight", {10, 4}}, {"4.bias", {10}}}));
  // Nearly right: a missing tensor, a wrong shape, no spec, an empty tensor.
  write("safetensors", "missing_bias", safetensors("maxpool(14) flatten dense(10)", {{"2.weight", {10, 4}}}));
  write("safetensors", "wrong_shape", safetensors("maxpool(14) flatten dense(10)", {{"2.weight", {4, 10}}, {"2.bias", {10}}}));
  write("safetensors", "no_metadata", safetensors("", {{"a", {2, 3}}, {"b", {0, 5}}, {"c", {}}}, false));
}

// ---- images ------------------------------------------------------------------------------------------
void png_write_mem(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<Bytes*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void png_flush_mem(png_structp) {}

// PNG of a 16x16 digit in the given colour type and bit depth (samples derived from the grey pattern).
Bytes png(int color_type, int bit_depth, bool interlaced, bool trns = false) {
  const int w = 16, h = 16;
  const auto grey = digit_pixels(w, h, true);
  Bytes out;
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(p);
  if (setjmp(png_jmpbuf(p))) die("libpng failed");
  png_set_write_fn(p, &out, png_write_mem, png_flush_mem);
  png_set_IHDR(p, info, w, h, bit_depth, color_type, interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_color pal[2] = {{0, 0, 0}, {255, 255, 255}};
    png_set_PLTE(p, info, pal, 2);
    if (trns) {
      png_byte alpha[1] = {128};
      png_set_tRNS(p, info, alpha, 1, nullptr);
    }
  }
  png_write_info(p, info);
  const int channels = color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGBA ? 4
                       : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
  const int passes = png_set_interlace_handling(p);
  for (int pass = 0; pass < passes; ++pass) {
    for (int y = 0; y < h; ++y) {
      Bytes row(size_t(w) * channels * 2 + 8, 0);
      for (int x = 0; x < w; ++x) {
        const uint8_t v = grey[size_t(y) * w + x];
        if (bit_depth < 8) {  // grey or palette index, packed MSB first
          const int bits = bit_depth, per_byte = 8 / bits, maxv = (1 << bits) - 1;
          const int s = (v ? maxv : 0) & (color_type == PNG_COLOR_TYPE_PALETTE ? 1 : maxv);
          row[size_t(x / per_byte)] |= uint8_t(s << (8 - bits * (x % per_byte + 1)));
        } else if (bit_depth == 16) {
          for (int c = 0; c < channels; ++c) row[size_t((x * channels + c) * 2)] = row[size_t((x * channels + c) * 2 + 1)] = (c == 3 ? 200 : v);
        } else if (color_type == PNG_COLOR_TYPE_PALETTE) {
          row[size_t(x)] = v ? 1 : 0;
        } else {
          for (int c = 0; c < channels; ++c) row[size_t(x * channels + c)] = (channels == 2 || channels == 4) && c == channels - 1 ? 200 : v;
        }
      }
      png_write_row(p, row.data());
    }
  }
  png_write_end(p, nullptr);
  png_destroy_write_struct(&p, &info);
  return out;
}

Bytes jpeg(bool colour, bool progressive) {
  const int w = 16, h = 16;
  const auto grey = digit_pixels(w, h, false);
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = w;
  c.image_height = h;
  c.input_components = colour ? 3 : 1;
  c.in_color_space = colour ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  Bytes row(size_t(w) * 3);
  while (c.next_scanline < c.image_height) {
    const int y = int(c.next_scanline);
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c.input_components; ++k) row[size_t(x * c.input_components + k)] = grey[size_t(y) * w + x];
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes out(buf, buf + size);
  std::free(buf);
  return out;
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

void image_seeds() {
  write("image", "grey8.png", png(PNG_COLOR_TYPE_GRAY, 8, false));
  write("image", "grey1.png", png(PNG_COLOR_TYPE_GRAY, 1, false));
  write("image", "grey16.png", png(PNG_COLOR_TYPE_GRAY, 16, false));
  write("image", "grey_alpha.png", png(PNG_COLOR_TYPE_GRAY_ALPHA, 8, false));
  write("image", "rgb.png", png(PNG_COLOR_TYPE_RGB, 8, false));
  write("image", "rgba16.png", png(PNG_COLOR_TYPE_RGBA, 16, false));
  write("image", "palette_trns.png", png(PNG_COLOR_TYPE_PALETTE, 8, false, true));
  write("image", "palette2.png", png(PNG_COLOR_TYPE_PALETTE, 2, false));
  write("image", "interlaced.png", png(PNG_COLOR_TYPE_GRAY, 8, true));
  write("image", "grey.jpg", jpeg(false, false));
  write("image", "rgb.jpg", jpeg(true, false));
  write("image", "progressive.jpg", jpeg(true, true));
  const auto g = digit_pixels(8, 8, true);
  std::string p2 = "P2\n# ascii grey\n8 8\n255\n", p3 = "P3 8 8 15\n", p1 = "P1\n8 8\n";
  for (size_t i = 0; i < g.size(); ++i) {
    p2 += std::to_string(g[i]) + (i % 8 == 7 ? "\n" : " ");
    p3 += std::to_string(g[i] / 17) + " 0 " + std::to_string(g[i] / 17) + "\n";
    p1 += g[i] ? "0" : "1";
  }
  write("image", "ascii.pgm", text(p2));
  write("image", "ascii.ppm", text(p3));
  write("image", "ascii.pbm", text(p1));
  Bytes p5 = text("P5 8 8 255\n"), p5w = text("P5\n8 8\n65535\n"), p6 = text("P6 8 8 255\n"), p4 = text("P4\n8 8\n");
  for (size_t i = 0; i < g.size(); ++i) {
    p5.push_back(g[i]);
    p5w.push_back(g[i]), p5w.push_back(uint8_t(i));
    for (int c = 0; c < 3; ++c) p6.push_back(uint8_t(c == 1 ? 0 : g[i]));
  }
  for (int y = 0; y < 8; ++y) {
    uint8_t byte = 0;
    for (int x = 0; x < 8; ++x) byte |= uint8_t((g[size_t(y) * 8 + x] ? 0 : 1) << (7 - x));
    p4.push_back(byte);
  }
  write("image", "binary.pgm", p5);
  write("image", "binary16.pgm", p5w);
  write("image", "binary.ppm", p6);
  write("image", "binary.pbm", p4);
  write("image", "one_pixel.pgm", text("P5 1 1 255\n\xff"));
  write("image", "not_an_image.txt", text("hello, this is text\n"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) die("usage: digits_fuzz_seeds OUTDIR");
  g_out = argv[1];
  for (const char* sub : {"", "/idx", "/safetensors", "/image"}) {
    const std::string d = g_out + sub;
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) die("cannot create " + d);
  }
  idx_seeds();
  safetensors_seeds();
  image_seeds();
  return 0;
}
