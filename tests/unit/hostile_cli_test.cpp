// End to end: the built `digits` against hostile and broken files made here in a temporary directory
// (a tiny synthetic data set, tiny models, small images; never MNIST). Each case must end with exit code 1
// and one "digits: error:" line that names the file and says what is wrong; never a crash, a sanitizer
// report, an "internal error" (exit 2) or a giant allocation. Also: unwritable outputs and a full disk are
// reported before training where they can be, and a failed save leaves the previous checkpoint intact.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <jpeglib.h>  // needs <cstdio> first
#include <png.h>

#include "backend.h"
#include "mnist_idx.h"
#include "model.h"
#include "model_file.h"
#include "testing/files.h"
#include "testing/run_cli.h"
#include "testing/synthetic.h"

namespace digits {
namespace {

namespace fs = std::filesystem;
using testing::Bytes;
using testing::read_bytes;
using testing::write_bytes;
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("digits_hostile") {}
};

// The small network every model and training run here uses: 4*9+4 + 10*4*13*13+10 = 6810 parameters.
constexpr const char* kSpec = "conv(4,3) relu maxpool(2) flatten dense(10)";
// Flags that keep each run small: one CPU thread, a short epoch.
constexpr const char* kRunFlags = " --device cpu --threads 1 --batch 16 --max-steps 2 --progress plain";
constexpr const char* kTrainFlags = " --device cpu --threads 1 --batch 16 --max-steps 2 --progress plain --epochs 1";

// ---------------------------------------------------------------------------------------------------------
// helpers

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

std::string q(const std::string& s) { return "'" + s + "'"; }  // the temp paths hold no quotes

// What every refusal must look like: exit 1, one error line naming `file` and containing `needle`, and
// nothing a sanitizer or an escaped exception would print.
void expect_refused(const testing::CliResult& r, const std::string& file, const std::string& needle) {
  EXPECT_EQ(r.status, 1) << r.output;
  const auto at = r.output.find("digits: error: ");
  ASSERT_NE(at, std::string::npos) << r.output;
  const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
  if (std::getenv("DIGITS_TEST_SHOW_ERRORS")) std::printf("  %s\n", line.c_str());  // to review the wording
  EXPECT_NE(line.find(file), std::string::npos) << "the error line does not name " << file << ":\n" << r.output;
  EXPECT_NE(line.find(needle), std::string::npos) << "the error line lacks '" << needle << "':\n" << r.output;
  EXPECT_EQ(r.output.find("digits: error: ", at + 1), std::string::npos) << "more than one error:\n" << r.output;
  for (const char* bad : {"Sanitizer", "runtime error", "internal error", "terminate", "Aborted"})
    EXPECT_EQ(r.output.find(bad), std::string::npos) << "'" << bad << "' in:\n" << r.output;
}

// ---- data: a tiny valid MNIST-like directory (raw IDX), and hostile variants of its files ----

const char* kTrainImages = "train-images-idx3-ubyte";
const char* kTrainLabels = "train-labels-idx1-ubyte";

Bytes idx_bytes(const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes b = {0, 0, 0x08, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_gz(const std::string& path, const Bytes& b) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, b.data(), unsigned(b.size())), int(b.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

// 64 training and 32 test images of the synthetic set.
void write_dataset(const std::string& dir) { testing::write_synthetic_mnist(dir); }

// ---- models ----

ModelFile tiny_model(const std::string& spec = kSpec) {
  auto be = make_cpu_backend(1);
  Model m(*be, NetSpec::parse(spec), 1);
  m.init(3);
  ModelFile f;
  f.metadata[meta::kFormat] = meta::kFormatValue;
  f.metadata[meta::kSpec] = m.spec().text();
  f.tensors = m.export_params();
  return f;
}

// A safetensors file by hand: the 8-byte length (given separately, so it can lie), the header, the data.
Bytes safetensors(uint64_t header_len, const std::string& header, size_t data_bytes) {
  Bytes b;
  b.reserve(8 + header.size() + data_bytes);
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(header_len >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}
Bytes safetensors(const std::string& header, size_t data_bytes) { return safetensors(header.size(), header, data_bytes); }

std::string meta_json(const std::string& spec) { return "\"__metadata__\":{\"spec\":\"" + spec + "\"}"; }

std::string entry(const std::string& name, const std::string& shape, uint64_t begin, uint64_t end,
                  const std::string& dtype = "F32") {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// ---- images ----

// A 28x28 binary PGM with a vertical bar: a valid digit-like image.
Bytes bar_pgm() {
  Bytes b = text("P5 28 28 255\n");
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) b.push_back(x >= 12 && x < 16 && y >= 4 && y < 24 ? 255 : 0);
  return b;
}

void png_append(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<Bytes*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
void png_no_flush(png_structp) {}

// Plain data only in the setjmp frame.
bool png_encode(png_structp png, png_infop info, const Bytes* grey, int side, Bytes* out) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, out, png_append, png_no_flush);
  png_set_IHDR(png, info, png_uint_32(side), png_uint_32(side), 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < side; ++y) png_write_row(png, const_cast<png_bytep>(grey->data() + size_t(y) * side));
  png_write_end(png, nullptr);
  return true;
}

Bytes grey_png(int side) {
  Bytes grey(size_t(side) * side, 0), out;
  for (size_t i = 0; i < grey.size(); i += 3) grey[i] = 200;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  const bool ok = png_encode(png, info, &grey, side, &out);
  png_destroy_write_struct(&png, &info);
  EXPECT_TRUE(ok);
  return out;
}

Bytes grey_jpeg(int side) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* mem = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &mem, &size);
  c.image_width = JDIMENSION(side);
  c.image_height = JDIMENSION(side);
  c.input_components = 1;
  c.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_start_compress(&c, TRUE);
  Bytes row(size_t(side), 128);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  Bytes out(mem, mem + size);
  std::free(mem);
  return out;
}

// ---- running digits with a file-size limit (a "full disk") ----

// Runs `digits args...` with RLIMIT_FSIZE = limit_bytes and SIGXFSZ ignored, so writes past the limit
// fail with EFBIG the way they fail with ENOSPC on a full disk. Output (stdout + stderr) goes to `log`.
testing::CliResult run_digits_fsize_limited(const std::vector<std::string>& args, rlim_t limit_bytes,
                                            const std::string& log) {
  testing::CliResult r;
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) ::_exit(120);
    ::dup2(fd, 1), ::dup2(fd, 2);
    const rlimit lim{limit_bytes, limit_bytes};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(121);
    ::signal(SIGXFSZ, SIG_IGN);  // ignored dispositions survive exec
    const std::string bin = testing::digits_binary();
    std::vector<char*> argv = {const_cast<char*>(bin.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(122);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  const Bytes out = read_bytes(log);
  r.output.assign(out.begin(), out.end());
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// Data files (IDX), through `digits train --data DIR`

class HostileData : public ::testing::Test {
 protected:
  void SetUp() override { write_dataset(data_); }
  testing::CliResult train() {
    return testing::run_digits("train --data " + q(data_) + " --spec " + q(kSpec) + kTrainFlags + " --out " +
                               q(tmp_.file("m.safetensors")));
  }
  std::string path(const char* name) const { return data_ + "/" + name; }
  // Replaces a file of the data set (raw) with these bytes.
  void replace(const char* name, const Bytes& b) { write_bytes(path(name), b); }

  TempDir tmp_;
  std::string data_ = tmp_.file("data");
};

TEST_F(HostileData, ValidTinySetTrains) {
  const auto r = train();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NO_THROW(load_model_file(tmp_.file("m.safetensors")));
}

TEST_F(HostileData, TruncatedImages) {
  Bytes b = read_bytes(path(kTrainImages));
  b.resize(b.size() - 100);
  replace(kTrainImages, b);
  expect_refused(train(), path(kTrainImages), "truncated");
}

TEST_F(HostileData, TruncatedGzipImages) {
  Bytes b = read_bytes(path(kTrainImages));
  fs::remove(path(kTrainImages));
  const std::string gz = path(kTrainImages) + ".gz";
  write_gz(gz, b);
  Bytes z = read_bytes(gz);
  z.resize(z.size() / 2);
  write_bytes(gz, z);
  expect_refused(train(), gz, "truncated");
}

TEST_F(HostileData, CorruptGzip) {
  const Bytes b = read_bytes(path(kTrainLabels));
  fs::remove(path(kTrainLabels));
  const std::string gz = path(kTrainLabels) + ".gz";
  write_gz(gz, b);
  Bytes z = read_bytes(gz);
  for (size_t i = 12; i < z.size() - 8; i += 3) z[i] ^= 0x5a;
  write_bytes(gz, z);
  expect_refused(train(), gz, "gzip");
}

TEST_F(HostileData, OverLongLabels) {
  Bytes b = read_bytes(path(kTrainLabels));
  b.push_back(3);
  replace(kTrainLabels, b);
  expect_refused(train(), path(kTrainLabels), "over-long");
}

TEST_F(HostileData, WrongMagic) {
  replace(kTrainImages, grey_png(8));
  expect_refused(train(), path(kTrainImages), "not an IDX file");
  replace(kTrainImages, idx_bytes({64, 28, 28}, Bytes(64 * 784)));
  Bytes b = read_bytes(path(kTrainImages));
  b[2] = 0x0D;  // float32
  replace(kTrainImages, b);
  expect_refused(train(), path(kTrainImages), "type code");
}

TEST_F(HostileData, HugeDeclaredCountFailsFastOnTheFileSize) {
  // 1,000,000 images of 28x28 (784 MB, under the reader's 1 GiB limit) declared, 784 bytes present: the
  // reader must notice the file is short without first allocating what the header claims.
  replace(kTrainImages, idx_bytes({1000000, 28, 28}, Bytes(784, 7)));
  const auto t0 = std::chrono::steady_clock::now();
  expect_refused(train(), path(kTrainImages), "truncated");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
  // 4 billion x 4 billion: over the limit, refused from the header alone.
  replace(kTrainImages, idx_bytes({0xffffffffu, 0xffffffffu, 28}, Bytes(16)));
  expect_refused(train(), path(kTrainImages), "exceeds the limit");
}

TEST_F(HostileData, LabelAboveNine) {
  Bytes labels(64, 1);
  labels[17] = 10;
  replace(kTrainLabels, idx_bytes({64}, labels));
  expect_refused(train(), path(kTrainLabels), "outside 0..9");
}

TEST_F(HostileData, ImageLabelCountMismatch) {
  replace(kTrainLabels, idx_bytes({63}, Bytes(63, 1)));
  expect_refused(train(), path(kTrainLabels), "do not belong together");
}

TEST_F(HostileData, WrongRankAndEmptyFile) {
  replace(kTrainLabels, idx_bytes({8, 8}, Bytes(64, 1)));
  expect_refused(train(), path(kTrainLabels), "1 dimension");
  replace(kTrainLabels, {});
  expect_refused(train(), path(kTrainLabels), "truncated");
}

TEST_F(HostileData, EvalReadsTheSameWay) {
  // eval loads the data after the model: give it a valid model and broken test labels.
  const std::string model = tmp_.file("tiny.safetensors");
  save_model_file(model, tiny_model());
  write_bytes(data_ + "/t10k-labels-idx1-ubyte", idx_bytes({32}, Bytes(32, 200)));
  expect_refused(testing::run_digits("eval --device cpu --threads 1 --data " + q(data_) + " --model " + q(model)),
                 data_ + "/t10k-labels-idx1-ubyte", "outside 0..9");
}

TEST_F(HostileData, EvalReadsOnlyTheTestSet) {
  // eval never opens the training images: a broken training set stops train, not eval.
  const std::string model = tmp_.file("tiny.safetensors");
  save_model_file(model, tiny_model());
  replace(kTrainImages, grey_png(8));
  const auto r = testing::run_digits("eval --device cpu --threads 1 --data " + q(data_) + " --model " + q(model));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(" test images)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(" train, "), std::string::npos) << r.output;  // the data line counts test images only
  expect_refused(train(), path(kTrainImages), "not an IDX file");
}

// ---------------------------------------------------------------------------------------------------------
// Model files (safetensors), through `digits predict --model FILE` (and train --resume, eval)

class HostileModel : public ::testing::Test {
 protected:
  void SetUp() override { write_bytes(image_, bar_pgm()); }
  testing::CliResult predict(const std::string& model) {
    return testing::run_digits("predict --device cpu --threads 1 --model " + q(model) + " " + q(image_));
  }
  // Writes bytes as the model file, runs predict, expects a refusal naming it.
  void expect_model_refused(const Bytes& b, const std::string& needle) {
    write_bytes(model_, b);
    expect_refused(predict(model_), model_, needle);
  }

  TempDir tmp_;
  std::string image_ = tmp_.file("bar.pgm"), model_ = tmp_.file("hostile.safetensors");
};

TEST_F(HostileModel, ValidTinyModelPredicts) {
  save_model_file(model_, tiny_model());
  const auto r = predict(model_);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("bar.pgm: "), std::string::npos) << r.output;
}

TEST_F(HostileModel, EmptyShortAndNotSafetensors) {
  expect_model_refused({}, "too short");
  expect_model_refused(text("{}"), "too short");
  expect_model_refused(grey_png(4), "header length");
  expect_model_refused(text("this is a text file, long enough to be read as a length\n"), "header length");
}

TEST_F(HostileModel, LyingHeaderLength) {
  const std::string h = "{" + meta_json(kSpec) + "}";
  expect_model_refused(safetensors(h.size() + 1000, h, 16), "larger than the rest of the file");
  expect_model_refused(safetensors(uint64_t(1) << 40, h, 16), "100 MB limit");
  expect_model_refused(safetensors(h.size() - 3, h, 0), "not valid JSON");
}

TEST_F(HostileModel, OffsetsOutOfRangeOrOverlapping) {
  const std::string m = meta_json(kSpec);
  expect_model_refused(safetensors("{" + m + "," + entry("a", "[4]", 0, 16) + "," + entry("b", "[4]", 16, 32) + "}", 24),
                       "outside the data section");
  expect_model_refused(safetensors("{" + m + "," + entry("a", "[4]", 0, 16) + "," + entry("b", "[4]", 8, 24) + "}", 24),
                       "overlap");
  expect_model_refused(safetensors("{" + m + "," + entry("a", "[4]", 16, 0) + "}", 16), "outside the data section");
  expect_model_refused(safetensors("{" + m + "," + entry("a", "[4]", 0, 12) + "}", 16), "needs 16");
  expect_model_refused(
      safetensors("{" + m + ",\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,18446744073709551615]}}", 16),
      "outside the data section");
}

TEST_F(HostileModel, WrongDtypeOrShape) {
  const std::string m = meta_json(kSpec);
  expect_model_refused(safetensors("{" + m + "," + entry("a", "[4]", 0, 8, "F16") + "}", 8), "dtype");
  expect_model_refused(safetensors("{" + m + "," + entry("a", "[-4]", 0, 16) + "}", 16), "negative");
  expect_model_refused(safetensors("{" + m + "," + entry("a", "[4294967296,4294967296,4294967296]", 0, 16) + "}", 16),
                       "64 bits");
  // Valid file, but a tensor's shape is not the one the spec needs (the dense weight transposed).
  ModelFile f = tiny_model();
  for (auto& t : f.tensors)
    if (t.name == "4.weight") std::swap(t.shape[0], t.shape[1]);
  save_model_file(model_, f);
  expect_refused(predict(model_), model_, "wrong shape");
}

TEST_F(HostileModel, MissingTensorsAndSpecMismatch) {
  ModelFile f = tiny_model();
  f.tensors.pop_back();  // 4.bias
  save_model_file(model_, f);
  expect_refused(predict(model_), model_, "'4.bias'");
  // The spec names another network than the tensors hold.
  f = tiny_model();
  f.metadata[meta::kSpec] = "conv(8,3) relu maxpool(2) flatten dense(10)";
  save_model_file(model_, f);
  expect_refused(predict(model_), model_, "wrong shape");
  f.metadata[meta::kSpec] = "conv(4,3) relu maxpool(2) conv(4,3) flatten dense(10)";
  save_model_file(model_, f);
  expect_refused(predict(model_), model_, "tensor");
  // No spec at all, a spec that does not parse, and a network with 7 outputs.
  f = tiny_model();
  f.metadata.erase(meta::kSpec);
  save_model_file(model_, f);
  expect_refused(predict(model_), model_, "no 'spec'");
  f.metadata[meta::kSpec] = "conv(4,3) frobnicate dense(10)";
  save_model_file(model_, f);
  expect_refused(predict(model_), model_, "bad network spec");
  f = tiny_model("conv(4,3) relu maxpool(2) flatten dense(7)");
  save_model_file(model_, f);
  expect_refused(predict(model_), model_, "not 10");
}

TEST_F(HostileModel, NanWeights) {
  ModelFile f = tiny_model();
  f.tensors[0].data[5] = std::numeric_limits<float>::quiet_NaN();
  save_model_file(model_, f);
  expect_refused(predict(model_), model_, "NaN or Inf");
}

TEST_F(HostileModel, HugeSpecsAreRefusedBeforeAllocating) {
  // The spec asks for 2^32 + parameters (16 GiB); the file holds 40 bytes. The loader compares the two
  // before allocating anything the spec asks for (it used to allocate and zero 17 GB first).
  const std::string m = meta_json("flatten dense(65536) dense(65536) dense(10)");
  const auto t0 = std::chrono::steady_clock::now();
  expect_model_refused(safetensors("{" + m + "," + entry("1.weight", "[10]", 0, 40) + "}", 40), "wrong shape");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
  // Every tensor present (2 MB), but 3000 layers of 64x28x28 activations: 1.2 GB per image, over the
  // limit of 2^28 values per image.
  std::string spec = "conv(64,1,same)";
  for (int i = 0; i < 3000; ++i) spec += " relu";
  spec += " flatten dense(10)";
  ModelFile f;
  f.metadata[meta::kSpec] = spec;
  f.tensors = {{"0.weight", {64, 1, 1, 1}, std::vector<float>(64, 0.5f)},
               {"0.bias", {64}, std::vector<float>(64, 0.f)},
               {"3002.weight", {10, 64 * 28 * 28}, std::vector<float>(10 * 64 * 28 * 28, 0.01f)},
               {"3002.bias", {10}, std::vector<float>(10, 0.f)}};
  save_model_file(model_, f);
  expect_refused(predict(model_), model_, "activation values per image (the limit)");
}

TEST_F(HostileModel, DirectoryAndMissingFile) {
  fs::create_directories(tmp_.file("dir.safetensors"));
  expect_refused(predict(tmp_.file("dir.safetensors")), tmp_.file("dir.safetensors"), "not a regular file");
  expect_refused(predict(tmp_.file("missing.safetensors")), tmp_.file("missing.safetensors"), "cannot open");
}

TEST_F(HostileModel, ResumeFromAModelThatIsNotACheckpoint) {
  const std::string data = tmp_.file("data");
  write_dataset(data);
  save_model_file(model_, tiny_model());  // weights only: no epoch, no optimizer state, no data set CRC
  const auto r = testing::run_digits("train --data " + q(data) + kTrainFlags + " --resume " + q(model_));
  expect_refused(r, model_, "not a training checkpoint");
  // A checkpoint cut short (e.g. copied while being written elsewhere).
  ASSERT_EQ(testing::run_digits("train --data " + q(data) + " --spec " + q(kSpec) + kTrainFlags + " --out " +
                                q(tmp_.file("m.safetensors")))
                .status,
            0);
  Bytes ck = read_bytes(tmp_.file("m.ckpt.safetensors"));
  ASSERT_GT(ck.size(), 1000u);
  ck.resize(ck.size() - 1000);
  write_bytes(tmp_.file("cut.ckpt.safetensors"), ck);
  expect_refused(testing::run_digits("train --data " + q(data) + kRunFlags + " --epochs 2 --resume " +
                                     q(tmp_.file("cut.ckpt.safetensors"))),
                 tmp_.file("cut.ckpt.safetensors"), "truncated");
}

TEST_F(HostileModel, CheckpointWithCorruptTrainingState) {
  const std::string data = tmp_.file("data"), ckpt = tmp_.file("m.ckpt.safetensors");
  write_dataset(data);
  ASSERT_EQ(testing::run_digits("train --data " + q(data) + " --spec " + q(kSpec) + kTrainFlags + " --out " +
                                q(tmp_.file("m.safetensors")))
                .status,
            0);
  const ModelFile good = load_model_file(ckpt);
  auto resume = [&](const ModelFile& f) {
    save_model_file(model_, f);
    return testing::run_digits("train --data " + q(data) + kRunFlags + " --epochs 2 --resume " + q(model_));
  };
  ModelFile f = good;
  f.metadata["epoch"] = "one";
  expect_refused(resume(f), model_, "'epoch' is 'one'");
  f = good;
  f.metadata["step"] = "99999999999999999999999";
  expect_refused(resume(f), model_, "'step'");
  f = good;
  f.metadata[meta::kTrainConfig] = R"({"epochs":1e300,"batch":16,"optimizer":"adadelta","lr":1,"momentum":0.9,"seed":1})";
  expect_refused(resume(f), model_, "train_config");
  f = good;
  f.metadata[meta::kTrainConfig] = R"({"epochs":1,"batch":16,"optimizer":"adadelta","lr":1e300,"momentum":0.9,"seed":-1})";
  expect_refused(resume(f), model_, "train_config");
  f = good;
  f.metadata[meta::kSpec] = "conv(4,3) relu maxpool(2) flatten";
  expect_refused(resume(f), model_, "spec");
  f = good;
  for (auto& t : f.tensors)
    if (t.name == "optim.steps") t.data[0] = std::numeric_limits<float>::quiet_NaN();
  expect_refused(resume(f), model_, "optim.steps");
  f = good;
  for (auto& t : f.tensors)
    if (t.name == "optim.steps") t.data[1] = 1e30f;
  expect_refused(resume(f), model_, "optim.steps");
}

// ---------------------------------------------------------------------------------------------------------
// Images, through `digits predict`

class HostileImage : public ::testing::Test {
 protected:
  void SetUp() override { save_model_file(model_, tiny_model()); }
  testing::CliResult predict(const std::string& image) {
    return testing::run_digits("predict --device cpu --threads 1 --model " + q(model_) + " " + q(image));
  }
  void expect_image_refused(const Bytes& b, const std::string& name, const std::string& needle) {
    write_bytes(tmp_.file(name), b);
    expect_refused(predict(tmp_.file(name)), tmp_.file(name), needle);
  }

  TempDir tmp_;
  std::string model_ = tmp_.file("tiny.safetensors");
};

TEST_F(HostileImage, EmptyFileAndEmptyStdin) {
  expect_image_refused({}, "empty.png", "empty file");
  const auto r = testing::run_digits("predict --device cpu --threads 1 --model " + q(model_) + " - < /dev/null");
  expect_refused(r, "<stdin>", "empty file");
}

TEST_F(HostileImage, OnePixelImagesAreReadAsNoDigit) {
  for (const auto& [name, bytes] : {std::pair{"one.pgm", text("P5 1 1 255\n\xff")}, std::pair{"one.png", grey_png(1)},
                                    std::pair{"one.jpg", grey_jpeg(1)}}) {
    write_bytes(tmp_.file(name), bytes);
    const auto r = predict(tmp_.file(name));
    EXPECT_EQ(r.status, 0) << name << ": " << r.output;
    EXPECT_NE(r.output.find(std::string(name) + ": no digit"), std::string::npos) << r.output;
  }
}

TEST_F(HostileImage, EnormousImagesAreRefusedAboveTheStatedLimit) {
  // The limit is kMaxImagePixels (64 Mpixel); each file declares far more in a few bytes.
  expect_image_refused(text("P5 100000 100000 255\n"), "huge.pgm", "limit");
  Bytes png = grey_png(4);
  png[16] = 0x00, png[17] = 0x01, png[18] = 0x86, png[19] = 0xa0;  // width 100000
  png[20] = 0x00, png[21] = 0x01, png[22] = 0x86, png[23] = 0xa0;  // height 100000
  expect_image_refused(png, "huge.png", "limit");
  Bytes jpg = grey_jpeg(16);
  for (size_t i = 2; i + 8 < jpg.size(); ++i)
    if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) {  // SOF0: length, precision, height, width
      jpg[i + 5] = 0xea, jpg[i + 6] = 0x60, jpg[i + 7] = 0xea, jpg[i + 8] = 0x60;  // 60000 x 60000
      break;
    }
  expect_image_refused(jpg, "huge.jpg", "limit");
  // Just over the limit, a real 8193 x 8193 grey PGM header with no data behind it.
  expect_image_refused(text("P5 8193 8193 255\n"), "over.pgm", "limit");
}

TEST_F(HostileImage, NotImagesAtAll) {
  expect_image_refused(text("hello, I am a text file\n"), "note.png", "not an image");
  expect_image_refused(text("GIF89a\x01\x00\x01\x00"), "anim.gif", "GIF");
  Bytes noise(3000);
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = uint8_t((i * 2654435761u) >> 13);
  noise[0] = 0x01;
  expect_image_refused(noise, "noise.jpg", "not an image");
  expect_image_refused(read_bytes(model_), "model.png", "not an image");
}

TEST_F(HostileImage, TruncatedAndCorruptImages) {
  Bytes png = grey_png(32);
  png.resize(png.size() / 2);
  expect_image_refused(png, "cut.png", "truncated");
  Bytes jpg = grey_jpeg(32);
  jpg.resize(jpg.size() / 2);
  expect_image_refused(jpg, "cut.jpg", "truncated");
  expect_image_refused(text("P5 28 28 255\n\x01\x02"), "cut.pgm", "truncated");
  expect_image_refused(text("P2 2 2 255\n1 2 3 999\n"), "bad.pgm", "larger than the maximum");
}

TEST_F(HostileImage, DirectoryAndMissingFile) {
  fs::create_directories(tmp_.file("dir.png"));
  expect_refused(predict(tmp_.file("dir.png")), tmp_.file("dir.png"), "directory");
  expect_refused(predict(tmp_.file("missing.png")), tmp_.file("missing.png"), "cannot open");
}

// ---------------------------------------------------------------------------------------------------------
// Outputs: unwritable paths and a full disk

class HostileOutput : public ::testing::Test {
 protected:
  void SetUp() override { write_dataset(data_); }
  std::string train_args() const { return "train --data " + q(data_) + " --spec " + q(kSpec) + kTrainFlags; }

  TempDir tmp_;
  std::string data_ = tmp_.file("data");
};

TEST_F(HostileOutput, MissingDirectoryIsReportedBeforeTraining) {
  const std::string out = tmp_.file("no/such/dir/m.safetensors");
  const auto r = testing::run_digits(train_args() + " --out " + q(out));
  expect_refused(r, out, "does not exist");
  EXPECT_EQ(r.output.find("epoch 1/"), std::string::npos) << "trained before failing:\n" << r.output;
}

TEST_F(HostileOutput, OutputOverADirectoryIsReportedBeforeTraining) {
  const std::string out = tmp_.file("taken.safetensors");
  fs::create_directories(out);
  const auto r = testing::run_digits(train_args() + " --checkpoint none --out " + q(out));
  expect_refused(r, out, "is a directory");
  EXPECT_EQ(r.output.find("epoch 1/"), std::string::npos) << "trained before failing:\n" << r.output;
}

TEST_F(HostileOutput, FullDiskIsReportedBeforeTraining) {
  // 256 KiB may be written: less than the 1 MiB the trainer's probe needs, so it stops before training.
  const std::string out = tmp_.file("m.safetensors");
  const auto r = run_digits_fsize_limited({"train", "--data", data_, "--spec", kSpec, "--device", "cpu", "--threads",
                                           "1", "--batch", "16", "--max-steps", "2", "--epochs", "1", "--out", out},
                                          256 << 10, tmp_.file("log.txt"));
  expect_refused(r, out, "disk full");
  EXPECT_EQ(r.output.find("epoch 1/"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(HostileOutput, FullDiskDuringACheckpointKeepsThePreviousOne) {
  // A network whose checkpoint (weights + Adadelta state, ~4.8 MB) is larger than the 2 MiB limit while
  // the 1 MiB probe fits: epoch 1 is written without a limit, then the resumed epoch 2 fails to save.
  const std::string spec = "flatten dense(512) relu dense(10)", out = tmp_.file("big.safetensors"),
                    ckpt = tmp_.file("big.ckpt.safetensors");
  const auto first = testing::run_digits("train --data " + q(data_) + " --spec " + q(spec) + kTrainFlags + " --out " + q(out));
  ASSERT_EQ(first.status, 0) << first.output;
  const Bytes before = read_bytes(ckpt);
  ASSERT_GT(before.size(), size_t(2) << 20);
  const auto r = run_digits_fsize_limited({"train", "--data", data_, "--device", "cpu", "--threads", "1", "--max-steps",
                                           "2", "--epochs", "2", "--resume", ckpt},
                                          2 << 20, tmp_.file("log.txt"));
  expect_refused(r, ckpt, "cannot save");
  EXPECT_EQ(read_bytes(ckpt), before) << "the previous checkpoint changed";
  EXPECT_NO_THROW(load_model_file(ckpt));
  for (const auto& e : fs::directory_iterator(tmp_.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "left behind: " << e.path();
}

// ---------------------------------------------------------------------------------------------------------
// Numerical faults

TEST(HostileTraining, NanLossStopsWithTheStepAndTheLastGoodCheckpoint) {
  TempDir tmp;
  const std::string data = tmp.file("data");
  write_dataset(data);
  const std::string out = tmp.file("m.safetensors");
  const auto r = testing::run_digits("train --data " + q(data) + " --spec " + q(kSpec) +
                                     " --device cpu --threads 1 --batch 16 --max-steps 4 --epochs 3 --progress plain"
                                     " --optimizer sgd --lr 1e30 --out " + q(out));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("digits: error: training stopped"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("by step "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("last good checkpoint: "), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out)) << "a diverged run wrote its final model";
}

TEST(HostileTraining, OversizedSpecsAreRefusedBeforeAllocating) {
  TempDir tmp;
  const std::string data = tmp.file("data");
  write_dataset(data);
  const std::string out = tmp.file("m.safetensors");
  // 65536 x 65536 x 65536 x 65536 weights: 2^64, which wraps to 0 in a 64-bit count and so looked small
  // to the model. Counted without wrapping, it is over the limit.
  auto r = testing::run_digits("train --data " + q(data) + " --spec 'conv(65536,1) conv(65536,65536,same) maxpool(27) "
                               "flatten dense(10)'" + kRunFlags + " --epochs 1 --out " + q(out));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("parameters (the limit)"), std::string::npos) << r.output;
  // 17 G parameters in two dense layers.
  r = testing::run_digits("train --data " + q(data) + " --spec 'flatten dense(65536) dense(65536) dense(10)'" +
                          kRunFlags + " --epochs 1 --out " + q(out));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("parameters (the limit)"), std::string::npos) << r.output;
}

TEST(HostileTraining, WeightsBrokenByAnEpochsLastStepAreNotCheckpointed) {
  // One step per epoch: the loss of step 1 is measured before its update ruins the weights, so only the
  // evaluation after the epoch can see it. No checkpoint may be written from those weights.
  TempDir tmp;
  const std::string data = tmp.file("data");
  write_dataset(data);
  const std::string out = tmp.file("m.safetensors");
  const auto r = testing::run_digits("train --data " + q(data) + " --spec " + q(kSpec) +
                                     " --device cpu --threads 1 --batch 16 --max-steps 1 --epochs 3 --progress plain"
                                     " --optimizer sgd --lr 1e30 --out " + q(out));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("digits: error: training stopped: after epoch 1 (step 1)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("last good checkpoint: none"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp.file("m.ckpt.safetensors"))) << "a checkpoint of broken weights was written";
  EXPECT_FALSE(fs::exists(out));
}

TEST(HostileTraining, DivergingLearningRateIsReportedNotContinued) {
  // SGD at lr 100 keeps the loss finite but around 150, far above guessing (2.3): it must stop, not
  // write a useless model with exit code 0.
  TempDir tmp;
  const std::string data = tmp.file("data");
  write_dataset(data);
  const std::string out = tmp.file("m.safetensors");
  const auto r = testing::run_digits("train --data " + q(data) + " --spec " + q(kSpec) +
                                     " --device cpu --threads 1 --batch 16 --epochs 3 --progress plain"
                                     " --optimizer sgd --lr 100 --out " + q(out));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("digits: error: training stopped: the loss diverged"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("by step "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--lr"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("last good checkpoint: "), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out)) << "a diverged run wrote its final model";
}

}  // namespace
}  // namespace digits
