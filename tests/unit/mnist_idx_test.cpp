// IDX reading and writing (raw and gzip), hostile files, the MNIST splits and the data-directory lookup,
// all on small files the tests write into a temporary directory.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "error.h"
#include "mnist_idx.h"

#include "testing/env.h"
#include "testing/error_of.h"
#include "testing/files.h"

namespace digits {
namespace {

namespace fs = std::filesystem;
using testing::Bytes;
using testing::error_of;
using testing::read_bytes;
using testing::run_in_child;
using testing::write_bytes;
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("digits_mnist") {}
};

// ---------------------------------------------------------------------------------------------------
// helpers

// Gzip-compresses exactly these bytes (which need not be a valid IDX file).
void write_gz_bytes(const std::string& path, const Bytes& bytes) {
  gzFile gz = gzopen(path.c_str(), "wb");
  ASSERT_NE(gz, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(gz, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  }
  ASSERT_EQ(gzclose(gz), Z_OK);
}

// An IDX header (magic + big-endian dims) followed by `data_bytes` bytes of a simple pattern.
Bytes idx_bytes(const std::vector<uint32_t>& dims, size_t data_bytes, uint8_t type = 0x08) {
  Bytes b = {0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(d >> s));
  }
  for (size_t i = 0; i < data_bytes; ++i) b.push_back(uint8_t(i * 7));
  return b;
}

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = uint8_t(rng());
  return b;
}

// Expects read_idx(path) to throw an Error that starts with the path and contains `needle`.
void expect_read_error(const std::string& path, const std::string& needle, size_t max_bytes = size_t(1) << 30) {
  const std::string msg = error_of([&] { read_idx(path, max_bytes); });
  EXPECT_EQ(msg.rfind(path, 0), 0u) << "message does not start with the path: " << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << "message lacks '" << needle << "': " << msg;
}

// A small MNIST-like split: `count` images of rows x cols and labels 0..9 in turn.
void write_split(const std::string& dir, const std::string& stem, uint32_t count, uint32_t rows, uint32_t cols,
                 bool gz) {
  const std::string ext = gz ? ".gz" : "";
  Bytes images(size_t(count) * rows * cols);
  for (size_t i = 0; i < images.size(); ++i) images[i] = uint8_t(i * 31 + 7);
  Bytes labels(count);
  for (uint32_t i = 0; i < count; ++i) labels[i] = uint8_t(i % 10);
  write_idx(dir + "/" + stem + "-images-idx3-ubyte" + ext, {count, rows, cols}, images);
  write_idx(dir + "/" + stem + "-labels-idx1-ubyte" + ext, {count}, labels);
}

// Restores the working directory when a test ends (EnvGuard: testing/env.h restores a variable).
using testing::EnvGuard;

class CwdGuard {
 public:
  CwdGuard() : old_(fs::current_path()) {}
  ~CwdGuard() {
    std::error_code ec;
    fs::current_path(old_, ec);
  }

 private:
  fs::path old_;
};

// ---------------------------------------------------------------------------------------------------
// round trips

TEST(MnistIdx, RoundTripRaw) {
  TempDir tmp;
  for (const std::vector<uint32_t>& dims : std::vector<std::vector<uint32_t>>{{7}, {3, 5}, {4, 3, 2}, {2, 3, 1, 5}}) {
    size_t n = 1;
    for (uint32_t d : dims) n *= d;
    const Bytes data = random_bytes(n, 17);
    const std::string path = tmp.file("a-idx" + std::to_string(dims.size()) + "-ubyte");
    write_idx(path, dims, data);
    EXPECT_EQ(fs::file_size(path), 4 + 4 * dims.size() + n);
    const IdxArray a = read_idx(path);
    EXPECT_EQ(a.dims, dims);
    EXPECT_EQ(a.data, data);
  }
}

TEST(MnistIdx, RoundTripGzip) {
  TempDir tmp;
  const std::string path = tmp.file("images-idx3-ubyte.gz");
  const Bytes data = random_bytes(100 * 28 * 28, 3);
  write_idx(path, {100, 28, 28}, data);
  const Bytes file = read_bytes(path);
  ASSERT_GE(file.size(), 2u);
  EXPECT_EQ(file[0], 0x1f);  // really gzip
  EXPECT_EQ(file[1], 0x8b);
  const IdxArray a = read_idx(path);
  EXPECT_EQ(a.dims, (std::vector<uint32_t>{100, 28, 28}));
  EXPECT_EQ(a.data, data);
}

TEST(MnistIdx, LargerThanOneReadChunk) {
  TempDir tmp;
  const Bytes data = random_bytes(3 * 1024 * 1024 + 13, 5);  // several 1 MB chunks plus a remainder
  for (const char* name : {"big-idx1-ubyte", "big-idx1-ubyte.gz"}) {
    write_idx(tmp.file(name), {uint32_t(data.size())}, data);
    EXPECT_EQ(read_idx(tmp.file(name)).data, data) << name;
  }
}

TEST(MnistIdx, DetectsGzipFromContentNotName) {
  TempDir tmp;
  const Bytes data = random_bytes(60, 1);
  write_idx(tmp.file("x.gz"), {6, 10}, data);
  fs::rename(tmp.file("x.gz"), tmp.file("gzip-named-raw"));
  EXPECT_EQ(read_idx(tmp.file("gzip-named-raw")).data, data);
  write_idx(tmp.file("y"), {6, 10}, data);
  fs::rename(tmp.file("y"), tmp.file("raw-named.gz"));
  EXPECT_EQ(read_idx(tmp.file("raw-named.gz")).data, data);
}

TEST(MnistIdx, WriteRejectsBadArrays) {
  TempDir tmp;
  const std::string path = tmp.file("w");
  EXPECT_NE(error_of([&] { write_idx(path, {2, 3}, Bytes(5)); }).find("need 6 bytes"), std::string::npos);
  EXPECT_NE(error_of([&] { write_idx(path, {}, Bytes()); }).find("1 to 4 dimensions"), std::string::npos);
  EXPECT_NE(error_of([&] { write_idx(path, {1, 1, 1, 1, 1}, Bytes(1)); }).find("1 to 4 dimensions"), std::string::npos);
  EXPECT_NE(error_of([&] { write_idx(path, {0, 3}, Bytes()); }).find("zero"), std::string::npos);
  EXPECT_FALSE(fs::exists(path));
  const std::string msg = error_of([&] { write_idx(tmp.file("no/such/dir/f"), {1}, Bytes(1)); });
  EXPECT_EQ(msg.rfind(tmp.file("no/such/dir/f"), 0), 0u) << msg;
}

// ---------------------------------------------------------------------------------------------------
// hostile files: each gives an Error naming the file and the problem

TEST(MnistIdx, RejectsWrongMagic) {
  TempDir tmp;
  Bytes b = idx_bytes({4}, 4);
  b[0] = 0x01;
  write_bytes(tmp.file("m"), b);
  expect_read_error(tmp.file("m"), "not an IDX file");
  write_bytes(tmp.file("text"), Bytes{'h', 'e', 'l', 'l', 'o', '\n'});
  expect_read_error(tmp.file("text"), "not an IDX file");
}

TEST(MnistIdx, RejectsWrongTypeCode) {
  TempDir tmp;
  write_bytes(tmp.file("f"), idx_bytes({4}, 16, 0x0D));
  expect_read_error(tmp.file("f"), "type code 0x0d (float32) is not supported");
  write_bytes(tmp.file("x"), idx_bytes({4}, 4, 0x42));
  expect_read_error(tmp.file("x"), "type code 0x42");
}

TEST(MnistIdx, RejectsZeroOrFiveDims) {
  TempDir tmp;
  write_bytes(tmp.file("d0"), Bytes{0, 0, 8, 0, 1, 2, 3});
  expect_read_error(tmp.file("d0"), "declares 0 dimensions");
  write_bytes(tmp.file("d5"), idx_bytes({1, 1, 1, 1, 1}, 1));
  expect_read_error(tmp.file("d5"), "declares 5 dimensions");
}

TEST(MnistIdx, RejectsZeroDim) {
  TempDir tmp;
  write_bytes(tmp.file("z"), idx_bytes({10, 0, 28}, 0));
  expect_read_error(tmp.file("z"), "dimension 1 is zero");
}

TEST(MnistIdx, RejectsTruncatedRaw) {
  TempDir tmp;
  write_bytes(tmp.file("t"), idx_bytes({10, 10}, 90));  // 12 + 100 expected, 12 + 90 present
  expect_read_error(tmp.file("t"), "expected 112 bytes");
  expect_read_error(tmp.file("t"), "found 102");
  write_bytes(tmp.file("empty"), Bytes());
  expect_read_error(tmp.file("empty"), "expected at least 4 bytes (the IDX magic number), found 0");
  write_bytes(tmp.file("half-header"), Bytes{0, 0, 8, 3, 0, 0});
  expect_read_error(tmp.file("half-header"), "truncated");
}

TEST(MnistIdx, RejectsTruncatedGzip) {
  TempDir tmp;
  // incompressible data, so cutting the .gz in half cuts the decompressed data too
  write_idx(tmp.file("full.gz"), {50, 28, 28}, random_bytes(50 * 28 * 28, 9));
  Bytes gz = read_bytes(tmp.file("full.gz"));
  gz.resize(gz.size() / 2);
  write_bytes(tmp.file("cut.gz"), gz);
  expect_read_error(tmp.file("cut.gz"), "truncated gzip stream");
  expect_read_error(tmp.file("cut.gz"), "expected 39216 decompressed bytes");
  // a complete gzip stream whose content is shorter than its header says
  write_gz_bytes(tmp.file("short.gz"), idx_bytes({100}, 60));
  expect_read_error(tmp.file("short.gz"), "expected 108 decompressed bytes");
  expect_read_error(tmp.file("short.gz"), "found 68");
}

TEST(MnistIdx, RejectsOverLongFiles) {
  TempDir tmp;
  write_bytes(tmp.file("long"), idx_bytes({10}, 13));
  expect_read_error(tmp.file("long"), "over-long");
  expect_read_error(tmp.file("long"), "3 more bytes follow the 18 bytes");
  write_gz_bytes(tmp.file("long.gz"), idx_bytes({10}, 11));
  expect_read_error(tmp.file("long.gz"), "1 more decompressed byte follows");
}

TEST(MnistIdx, HugeDeclaredSizeFailsFastWithSmallMemory) {
  TempDir tmp;
  // 1000 x 1000 x 1000 = 1e9 bytes is within the default 1 GiB limit, but the file holds 20 bytes
  write_bytes(tmp.file("huge"), idx_bytes({1000, 1000, 1000}, 20));
  write_gz_bytes(tmp.file("huge.gz"), idx_bytes({1000, 1000, 1000}, 20));
  expect_read_error(tmp.file("huge"), "expected 1000000016 bytes");
  expect_read_error(tmp.file("huge.gz"), "found 36");
  // beyond any limit: 2^128 bytes must not overflow the size computation
  write_bytes(tmp.file("absurd"), idx_bytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, 4));
  expect_read_error(tmp.file("absurd"), "exceeds the limit");

  // The same in a child whose address space may grow by only 128 MB: a reader that trusted the header
  // would die of bad_alloc here instead of reporting the truncation.
  const int code = run_in_child([&] {
#if defined(__SANITIZE_ADDRESS__)
    return 0;  // ASan reserves terabytes of shadow memory: an address-space limit cannot work
#else
    long pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t limit = rlim_t(pages) * rlim_t(::sysconf(_SC_PAGESIZE)) + (rlim_t(128) << 20);
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_AS, &rl) != 0) return 3;
    for (const char* name : {"huge", "huge.gz"}) {
      try {
        read_idx(tmp.file(name));
        return 1;
      } catch (const Error& e) {
        if (std::string(e.what()).find("truncated") == std::string::npos) return 2;
      }
    }
    return 0;
#endif
  });
  EXPECT_EQ(code, 0) << "1: no error, 2: wrong error, 3: setrlimit failed, 98: other exception (bad_alloc)";
}

TEST(MnistIdx, RespectsMaxBytes) {
  TempDir tmp;
  write_idx(tmp.file("a"), {10, 10}, Bytes(100, 1));
  expect_read_error(tmp.file("a"), "exceeds the limit of 99 bytes", 99);
  EXPECT_EQ(read_idx(tmp.file("a"), 100).data.size(), 100u);
}

TEST(MnistIdx, RejectsCorruptGzip) {
  TempDir tmp;
  write_idx(tmp.file("ok.gz"), {40, 28, 28}, random_bytes(40 * 28 * 28, 11));
  Bytes gz = read_bytes(tmp.file("ok.gz"));
  ASSERT_GT(gz.size(), 2000u);
  // damage the deflate data in the middle
  for (size_t i = gz.size() / 2; i < gz.size() / 2 + 64; ++i) gz[i] ^= 0x5A;
  write_bytes(tmp.file("bad.gz"), gz);
  expect_read_error(tmp.file("bad.gz"), "corrupt gzip data");
  // a gzip header followed by garbage
  Bytes junk = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03};
  const Bytes noise = random_bytes(200, 4);
  junk.insert(junk.end(), noise.begin(), noise.end());
  write_bytes(tmp.file("junk.gz"), junk);
  const std::string msg = error_of([&] { read_idx(tmp.file("junk.gz")); });
  EXPECT_EQ(msg.rfind(tmp.file("junk.gz"), 0), 0u) << msg;
  // a damaged CRC in the gzip trailer is caught too (zlib checks it when the stream ends)
  Bytes crc = read_bytes(tmp.file("ok.gz"));
  crc[crc.size() - 6] ^= 0xFF;
  write_bytes(tmp.file("crc.gz"), crc);
  expect_read_error(tmp.file("crc.gz"), "corrupt gzip data");
}

TEST(MnistIdx, ReportsMissingFileAndDirectories) {
  TempDir tmp;
  expect_read_error(tmp.file("absent"), "No such file");
  expect_read_error(tmp.file("absent"), "fetch_mnist.sh");
  expect_read_error(tmp.path(), "not a regular file");
}

// ---------------------------------------------------------------------------------------------------
// MNIST splits

TEST(MnistIdxSplit, LoadsRawAndGzipSplits) {
  TempDir tmp;
  write_split(tmp.path(), "train", 30, 4, 3, /*gz=*/false);
  write_split(tmp.path(), "t10k", 12, 4, 3, /*gz=*/true);
  const Dataset train = load_split(tmp.path(), "train");
  EXPECT_EQ(train.count, 30);
  EXPECT_EQ(train.rows, 4);
  EXPECT_EQ(train.cols, 3);
  EXPECT_EQ(train.pixels(), 12);
  EXPECT_EQ(train.images.size(), 360u);
  ASSERT_EQ(train.labels.size(), 30u);
  EXPECT_EQ(train.labels[13], 3);
  EXPECT_EQ(train.images[5], uint8_t(5 * 31 + 7));
  const Dataset test = load_split(tmp.path(), "t10k");
  EXPECT_EQ(test.count, 12);
  EXPECT_EQ(test.labels[11], 1);
}

TEST(MnistIdxSplit, RejectsLabelsAboveNine) {
  TempDir tmp;
  write_split(tmp.path(), "train", 20, 2, 2, false);
  Bytes labels(20, 3);
  labels[17] = 10;
  write_idx(tmp.file("train-labels-idx1-ubyte"), {20}, labels);
  const std::string msg = error_of([&] { load_split(tmp.path(), "train"); });
  EXPECT_EQ(msg.rfind(tmp.file("train-labels-idx1-ubyte"), 0), 0u) << msg;
  EXPECT_NE(msg.find("label 10 at index 17"), std::string::npos) << msg;
}

TEST(MnistIdxSplit, RejectsCountMismatch) {
  TempDir tmp;
  write_split(tmp.path(), "train", 20, 2, 2, false);
  write_idx(tmp.file("train-labels-idx1-ubyte"), {19}, Bytes(19, 1));
  const std::string msg = error_of([&] { load_split(tmp.path(), "train"); });
  EXPECT_NE(msg.find("holds 19 labels"), std::string::npos) << msg;
  EXPECT_NE(msg.find("20 images"), std::string::npos) << msg;
}

TEST(MnistIdxSplit, RejectsWrongRanks) {
  TempDir tmp;
  write_split(tmp.path(), "train", 20, 2, 2, false);
  write_idx(tmp.file("train-images-idx3-ubyte"), {20, 4}, Bytes(80, 1));
  EXPECT_NE(error_of([&] { load_split(tmp.path(), "train"); }).find("need 3 dimensions"), std::string::npos);
  write_split(tmp.path(), "train", 20, 2, 2, false);
  write_idx(tmp.file("train-labels-idx1-ubyte"), {20, 1}, Bytes(20, 1));
  EXPECT_NE(error_of([&] { load_split(tmp.path(), "train"); }).find("need 1 dimension"), std::string::npos);
}

TEST(MnistIdxSplit, ReportsMissingFilesAndBadStem) {
  TempDir tmp;
  write_split(tmp.path(), "train", 10, 2, 2, true);
  fs::remove(tmp.file("train-labels-idx1-ubyte.gz"));
  const std::string msg = error_of([&] { load_split(tmp.path(), "train"); });
  EXPECT_EQ(msg.rfind(tmp.file("train-labels-idx1-ubyte[.gz]: not found"), 0), 0u) << msg;
  EXPECT_NE(msg.find("fetch_mnist.sh"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { load_split(tmp.path(), "valid"); }).find("unknown MNIST split"), std::string::npos);
}

TEST(MnistIdxSplit, LoadMnistComputesCrcOverDataInOrder) {
  TempDir tmp;
  write_split(tmp.path(), "train", 30, 5, 5, true);
  write_split(tmp.path(), "t10k", 10, 5, 5, false);
  const Mnist m = load_mnist(tmp.path());
  EXPECT_EQ(m.dir, tmp.path());
  EXPECT_EQ(m.train.count, 30);
  EXPECT_EQ(m.test.count, 10);
  // the same CRC computed independently: a bitwise CRC-32 (reflected, polynomial 0xEDB88320)
  uint32_t crc = 0xFFFFFFFFu;
  for (const Bytes* v : {&m.train.images, &m.train.labels, &m.test.images, &m.test.labels}) {
    for (uint8_t byte : *v) {
      crc ^= byte;
      for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
  }
  EXPECT_EQ(m.crc32, ~crc);
  // one changed pixel changes the checksum
  Bytes images = m.test.images;
  images[7] ^= 1;
  write_idx(tmp.file("t10k-images-idx3-ubyte"), {10, 5, 5}, images);
  EXPECT_NE(load_mnist(tmp.path()).crc32, m.crc32);
}

TEST(MnistIdxSplit, LoadMnistRejectsDifferentImageSizes) {
  TempDir tmp;
  write_split(tmp.path(), "train", 10, 5, 5, false);
  write_split(tmp.path(), "t10k", 10, 6, 5, false);
  EXPECT_NE(error_of([&] { load_mnist(tmp.path()); }).find("test images are 6x5"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------
// data-directory lookup: --data, then $MNIST_DIR, then ./data/mnist, then <source>/data/mnist

void write_all_splits(const std::string& dir, bool gz) {
  fs::create_directories(dir);
  write_split(dir, "train", 10, 2, 2, gz);
  write_split(dir, "t10k", 10, 2, 2, gz);
}

// True when the source tree's data/mnist holds MNIST: then nothing can be "not found".
bool source_tree_has_mnist() {
#ifdef DIGITS_SOURCE_DIR
  const std::string dir = DIGITS_SOURCE_DIR "/data/mnist";
  for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                        "t10k-labels-idx1-ubyte"}) {
    if (!fs::exists(dir + "/" + f) && !fs::exists(dir + "/" + f + ".gz")) return false;
  }
  return true;
#else
  return false;
#endif
}

TEST(MnistIdxFind, FlagWinsAndMustBeRight) {
  TempDir tmp;
  EnvGuard env("MNIST_DIR");
  write_all_splits(tmp.file("flag"), true);
  write_all_splits(tmp.file("env"), false);
  ::setenv("MNIST_DIR", tmp.file("env").c_str(), 1);
  EXPECT_EQ(find_mnist_dir(tmp.file("flag")), tmp.file("flag"));
  // a wrong --data is an error even though $MNIST_DIR is fine
  fs::create_directories(tmp.file("empty"));
  const std::string msg = error_of([&] { find_mnist_dir(tmp.file("empty")); });
  EXPECT_EQ(msg.rfind(tmp.file("empty"), 0), 0u) << msg;
  EXPECT_NE(msg.find("--data"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing train-images-idx3-ubyte[.gz]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fetch_mnist.sh"), std::string::npos) << msg;
  EXPECT_NE(error_of([&] { find_mnist_dir(tmp.file("nowhere")); }).find("no such directory"), std::string::npos);
}

TEST(MnistIdxFind, EnvironmentThenWorkingDirectory) {
  TempDir tmp;
  EnvGuard env("MNIST_DIR");
  CwdGuard cwd;
  write_all_splits(tmp.file("env"), false);
  write_all_splits(tmp.file("work/data/mnist"), true);
  fs::current_path(tmp.file("work"));
  ::setenv("MNIST_DIR", tmp.file("env").c_str(), 1);
  EXPECT_EQ(find_mnist_dir(""), tmp.file("env"));
  // a $MNIST_DIR without the data falls through to ./data/mnist
  ::setenv("MNIST_DIR", tmp.file("nowhere").c_str(), 1);
  EXPECT_EQ(fs::canonical(find_mnist_dir("")), fs::canonical(tmp.file("work/data/mnist")));
  ::unsetenv("MNIST_DIR");
  EXPECT_EQ(fs::canonical(find_mnist_dir("")), fs::canonical(tmp.file("work/data/mnist")));
  // an incomplete directory does not count
  fs::remove(tmp.file("work/data/mnist/t10k-labels-idx1-ubyte.gz"));
  if (source_tree_has_mnist()) {
    EXPECT_EQ(find_mnist_dir(""), DIGITS_SOURCE_DIR "/data/mnist");
  } else {
    EXPECT_NE(error_of([&] { find_mnist_dir(""); }).find("missing t10k-labels-idx1-ubyte[.gz]"), std::string::npos);
  }
}

TEST(MnistIdxFind, NotFoundListsWhereItLooked) {
  if (source_tree_has_mnist()) GTEST_SKIP() << "the source tree holds MNIST, so the lookup always succeeds";
  TempDir tmp;
  EnvGuard env("MNIST_DIR");
  CwdGuard cwd;
  fs::current_path(tmp.path());
  ::setenv("MNIST_DIR", tmp.file("nowhere").c_str(), 1);
  const std::string msg = error_of([&] { find_mnist_dir(""); });
  EXPECT_EQ(msg.rfind("data/mnist: MNIST not found", 0), 0u) << msg;
  EXPECT_NE(msg.find("$MNIST_DIR=" + tmp.file("nowhere") + ": no such directory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data/mnist (in "), std::string::npos) << msg;
#ifdef DIGITS_SOURCE_DIR
  EXPECT_NE(msg.find(DIGITS_SOURCE_DIR "/data/mnist"), std::string::npos) << msg;
#endif
  EXPECT_NE(msg.find("run data/fetch_mnist.sh or set MNIST_DIR"), std::string::npos) << msg;
}

}  // namespace
}  // namespace digits
