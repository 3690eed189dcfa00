// What each fuzz target does with one input, shared by the libFuzzer targets (tests/fuzz/fuzz_*.cpp) and
// the unit test that replays tests/fuzz/regressions/ (tests/unit/fuzz_regression_test.cpp), so a saved
// input is replayed exactly as it was fuzzed. Each function runs the readers on the input and checks what
// they promise; a reader's digits::Error passes through (refusing bad input is its job), a broken promise
// throws InvariantBroken, and anything else a reader throws passes through as the bug it is.
#pragma once

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend.h"
#include "error.h"
#include "image_io.h"
#include "mnist_idx.h"
#include "model.h"
#include "model_file.h"
#include "preprocess.h"

namespace digits::fuzz {

// A reader returned something it promises never to return.
struct InvariantBroken : std::logic_error {
  using std::logic_error::logic_error;
};

inline void require(bool ok, const char* what) {
  if (!ok) throw InvariantBroken(what);
}

// Writes bytes to `path` (created or truncated). An I/O error here is the harness's, never the input's.
inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("fuzz harness: cannot create " + path);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) {
      ::close(fd);
      throw std::runtime_error("fuzz harness: cannot write " + path);
    }
    done += size_t(n);
  }
  ::close(fd);
}

// ---------------------------------------------------------------------------------------------------------
// fuzz_idx. Byte 0 selects the mode, the rest is the payload.
//   bit 0: gzip-compress the payload first, so the fuzzer explores IDX headers behind the gzip path too
//          (raw payloads that start with 1f 8b exercise corrupt gzip streams);
//   bit 1: cut the payload at the position in bytes 1-2 into an images file and a labels file and load
//          them with load_split (ranks, equal counts, labels <= 9); otherwise read_idx alone.

inline std::vector<uint8_t> gzip_bytes(const uint8_t* data, size_t size) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::bad_alloc();
  std::vector<uint8_t> out(deflateBound(&z, uLong(size)) + 32);
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = uInt(size);
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("fuzz harness: deflate failed");
  return out;
}

inline void write_payload(const std::string& path, const uint8_t* data, size_t size, bool compress) {
  if (!compress) return write_file(path, data, size);
  const std::vector<uint8_t> gz = gzip_bytes(data, size);
  write_file(path, gz.data(), gz.size());
}

// `dir`: a private scratch directory (files "input", "train-images-idx3-ubyte", "train-labels-idx1-ubyte").
inline void idx_input(const uint8_t* data, size_t size, const std::string& dir) {
  if (size < 1) return;
  const bool compress = data[0] & 1, split = data[0] & 2;
  if (!split) {
    const std::string path = dir + "/input";
    write_payload(path, data + 1, size - 1, compress);
    // A 16 MiB cap keeps each run fast; the reader's logic is the same for any cap.
    const IdxArray a = read_idx(path, size_t(1) << 24);
    size_t n = a.dims.empty() ? 0 : 1;
    for (uint32_t d : a.dims) n *= d;
    require(!a.dims.empty() && a.dims.size() <= 4 && n == a.data.size() && n > 0, "read_idx: dims and data disagree");
    return;
  }
  if (size < 3) return;
  const uint8_t* payload = data + 3;
  const size_t n = size - 3, cut = std::min<size_t>(n, size_t(data[1]) << 8 | data[2]);
  write_payload(dir + "/train-images-idx3-ubyte", payload, cut, compress);
  write_payload(dir + "/train-labels-idx1-ubyte", payload + cut, n - cut, compress);
  const Dataset d = load_split(dir, "train");
  require(d.count > 0 && d.rows > 0 && d.cols > 0, "load_split: empty dimensions");
  require(d.images.size() == size_t(d.count) * size_t(d.rows) * size_t(d.cols) && d.labels.size() == size_t(d.count),
          "load_split: sizes disagree");
  for (uint8_t l : d.labels) require(l <= 9, "load_split: label above 9");
}

// ---------------------------------------------------------------------------------------------------------
// fuzz_safetensors: load_model_file, then for files with a spec, load_model (spec, layer shapes, tensor
// names, shapes and values checked against it) on a backend that holds memory but never computes: loading
// does not compute, and this keeps the CPU kernels out of the fuzz build. Allocations are real, so a spec
// that makes the loader allocate gigabytes shows up (libFuzzer's malloc limit).

class MemoryOnlyBackend final : public Backend {
 public:
  DeviceKind kind() const override { return DeviceKind::Cpu; }
  std::string name() const override { return "fuzz (memory only)"; }
  void* allocate(size_t bytes) override {
    void* p = std::malloc(bytes ? bytes : 1);
    if (!p) DIGITS_FAIL("fuzz backend: out of memory allocating " << bytes << " bytes");
    return p;
  }
  void deallocate(void* p) noexcept override { std::free(p); }
  void upload(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void fill(float* p, size_t n, float v) override { std::fill_n(p, n, v); }

 protected:
  // Every op does nothing (expanded from the op table, host/ops.h).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define DIGITS_OP(name, params, args, check) \
  void do_##name params override {}
#include "ops.h"
#undef DIGITS_OP
#pragma GCC diagnostic pop
};

inline void safetensors_input(const uint8_t* data, size_t size, const std::string& dir) {
  const std::string path = dir + "/input";
  write_file(path, data, size);
  const ModelFile f = load_model_file(path);
  for (const NamedTensor& t : f.tensors) {
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      require(d >= 0, "load_model_file: negative dimension");
      numel *= uint64_t(d);
    }
    require(numel == t.data.size(), "load_model_file: shape and data disagree");
  }
  if (f.metadata.count(meta::kSpec) == 0) return;
  MemoryOnlyBackend backend;
  const auto model = load_model(backend, path, 32);  // 32 images per pass, as the Predictor asks for
  require(model->num_classes() == 10, "load_model: not 10 classes");
}

// ---------------------------------------------------------------------------------------------------------
// fuzz_image: decode_image (PNG, JPEG, PGM/PPM/PBM by magic bytes, as `digits predict` and the window's
// "open image" read files), then for images it accepts, the preprocessing both run next.

// Preprocessing cost grows with the pixel count; larger images are decoded but not preprocessed, so one
// input never takes seconds (it shrinks anything above 1024 px first: the same code at any size).
inline constexpr size_t kMaxPreprocessPixels = size_t(1) << 20;

inline void image_input(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  const GrayImage img = decode_image(bytes, "<fuzz>");
  require(img.width > 0 && img.height > 0 && size_t(img.width) * size_t(img.height) <= kMaxImagePixels &&
              img.pixels.size() == size_t(img.width) * size_t(img.height),
          "decode_image: bad dimensions");
  if (img.pixels.size() > kMaxPreprocessPixels) return;
  for (const bool multi : {true, false}) {
    PreprocessOptions opt;
    opt.multi_digit = multi;
    const Preprocessed p = preprocess(img, opt);
    require(p.empty == p.digits.empty(), "preprocess: empty flag and digits disagree");
    for (const DigitInput& d : p.digits) {
      for (float v : d.pixels) require(v >= 0.f && v <= 1.f, "preprocess: pixel outside [0, 1] or NaN");
      require(d.x0 >= 0 && d.y0 >= 0 && d.x1 <= img.width && d.y1 <= img.height && d.x0 < d.x1 && d.y0 < d.y1,
              "preprocess: crop box outside the image");
    }
  }
}

}  // namespace digits::fuzz
