// safetensors model files: round trips, the on-disk layout, atomic saves that never damage the previous
// file, and hostile files that must each give a digits::Error naming the file, never a crash.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "error.h"
#include "model_file.h"

#include "testing/error_of.h"
#include "testing/files.h"

namespace digits {
namespace {

namespace fs = std::filesystem;
using testing::Bytes;
using testing::error_of;
using testing::listing;
using testing::read_bytes;
using testing::run_in_child;
using testing::write_bytes;
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("digits_model") {}
};

// ---------------------------------------------------------------------------------------------------
// helpers

// A safetensors file by hand: the 8-byte little-endian length (given separately, so it can lie), the
// header text and `data_bytes` bytes of data.
Bytes safetensors_bytes(uint64_t header_len, const std::string& header, size_t data_bytes) {
  Bytes b(8 + header.size() + data_bytes);
  for (int i = 0; i < 8; ++i) b[i] = uint8_t(header_len >> (8 * i));
  for (size_t i = 0; i < header.size(); ++i) b[8 + i] = uint8_t(header[i]);
  for (size_t i = 0; i < data_bytes; ++i) b[8 + header.size() + i] = uint8_t(i);
  return b;
}
Bytes safetensors_bytes(const std::string& header, size_t data_bytes) {
  return safetensors_bytes(header.size(), header, data_bytes);
}


// Writes `bytes` to a file and expects load_model_file to throw an Error that starts with the path and
// contains `needle`.
void expect_load_error(const TempDir& tmp, const Bytes& bytes, const std::string& needle) {
  const std::string path = tmp.file("hostile.safetensors");
  write_bytes(path, bytes);
  const std::string msg = error_of([&] { load_model_file(path); });
  EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << "message does not start with the path: " << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << "message lacks '" << needle << "': " << msg;
}

// One F32 tensor entry.
std::string entry(const std::string& name, const std::string& shape, uint64_t begin, uint64_t end,
                  const std::string& dtype = "F32") {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

ModelFile sample_model() {
  ModelFile m;
  m.metadata = {{"spec", "conv 32 3x3 relu | pool 2 | dense 10"}, {"preset", "keras"}, {"note", "Ünïcødé ✓"},
                {"empty", ""}};
  m.tensors.push_back({"0.weight", {4, 1, 3, 3}, {}});
  for (int i = 0; i < 36; ++i) m.tensors.back().data.push_back(float(i) * 0.25f - 3.f);
  m.tensors.push_back({"0.bias", {4}, {1.f, -2.f, std::numeric_limits<float>::infinity(), -0.f}});
  m.tensors.push_back({"scalar", {}, {42.5f}});
  m.tensors.push_back({"empty", {0, 7}, {}});
  m.tensors.push_back({"1.weight", {3, 5}, {}});
  for (int i = 0; i < 15; ++i) m.tensors.back().data.push_back(std::ldexp(1.f, i - 7));
  return m;
}

void expect_same(const ModelFile& a, const ModelFile& b) {
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
    EXPECT_EQ(a.tensors[i].shape, b.tensors[i].shape);
    ASSERT_EQ(a.tensors[i].data.size(), b.tensors[i].data.size()) << a.tensors[i].name;
    // bit-exact, so -0 and inf round trip too
    if (!a.tensors[i].data.empty()) {
      EXPECT_EQ(std::memcmp(a.tensors[i].data.data(), b.tensors[i].data.data(), 4 * a.tensors[i].data.size()), 0)
          << a.tensors[i].name;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// round trips and layout

TEST(ModelFile, RoundTripWithMetadata) {
  TempDir tmp;
  const std::string path = tmp.file("model.safetensors");
  const ModelFile m = sample_model();
  save_model_file(path, m);
  const ModelFile back = load_model_file(path);
  expect_same(m, back);
  EXPECT_EQ(listing(tmp.path()), std::vector<std::string>{"model.safetensors"});
}

TEST(ModelFile, LayoutIsSafetensors) {
  TempDir tmp;
  const std::string path = tmp.file("model.safetensors");
  const ModelFile m = sample_model();
  save_model_file(path, m);
  const Bytes bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[i];
  EXPECT_EQ(n % 8, 0u) << "the header is padded so the data starts 8-byte aligned";
  ASSERT_LE(8 + n, bytes.size());
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + long(n));
  const auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["__metadata__"]["preset"], "keras");
  // tensors follow one another without gaps, in order, and fill the data section exactly
  uint64_t offset = 0;
  for (const NamedTensor& t : m.tensors) {
    const auto& e = j[t.name];
    EXPECT_EQ(e["dtype"], "F32");
    EXPECT_EQ(e["shape"].get<std::vector<int64_t>>(), t.shape);
    EXPECT_EQ(e["data_offsets"][0].get<uint64_t>(), offset) << t.name;
    offset += 4 * t.data.size();
    EXPECT_EQ(e["data_offsets"][1].get<uint64_t>(), offset) << t.name;
  }
  EXPECT_EQ(bytes.size(), 8 + n + offset);
  // the data is little-endian float32
  float first = 0;
  const uint64_t begin = j["0.bias"]["data_offsets"][0].get<uint64_t>();
  std::memcpy(&first, bytes.data() + 8 + n + begin, 4);
  EXPECT_EQ(first, 1.f);
}

TEST(ModelFile, RoundTripEmptyModel) {
  TempDir tmp;
  save_model_file(tmp.file("empty.safetensors"), ModelFile{});
  const ModelFile back = load_model_file(tmp.file("empty.safetensors"));
  EXPECT_TRUE(back.metadata.empty());
  EXPECT_TRUE(back.tensors.empty());
}

TEST(ModelFile, FindByName) {
  const ModelFile m = sample_model();
  ASSERT_NE(m.find("0.bias"), nullptr);
  EXPECT_EQ(m.find("0.bias")->shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(m.find("missing"), nullptr);
}

TEST(ModelFile, LoadsForeignFiles) {
  TempDir tmp;
  // unpadded header, no metadata, tensors listed out of data order, an empty tensor, a gap and trailing data
  const std::string header = "{" + entry("b", "[2]", 16, 24) + "," + entry("a", "[1,3]", 0, 12) + "," +
                             entry("e", "[0]", 12, 12) + "}";
  write_bytes(tmp.file("f.safetensors"), safetensors_bytes(header, 28));
  const ModelFile m = load_model_file(tmp.file("f.safetensors"));
  ASSERT_EQ(m.tensors.size(), 3u);
  EXPECT_EQ(m.tensors[0].name, "a");  // data order
  EXPECT_EQ(m.tensors[1].name, "e");
  EXPECT_EQ(m.tensors[2].name, "b");
  float expect = 0;
  const uint8_t b0[4] = {16, 17, 18, 19};
  std::memcpy(&expect, b0, 4);
  EXPECT_EQ(m.find("b")->data[0], expect);
  EXPECT_TRUE(m.metadata.empty());
}

// ---------------------------------------------------------------------------------------------------
// atomic saves

TEST(ModelFileSave, OverwritesAndLeavesNoTemporaries) {
  TempDir tmp;
  const std::string path = tmp.file("m.safetensors");
  save_model_file(path, sample_model());
  ModelFile second;
  second.metadata["v"] = "2";
  second.tensors.push_back({"w", {2}, {5.f, 6.f}});
  save_model_file(path, second);
  expect_same(second, load_model_file(path));
  EXPECT_EQ(listing(tmp.path()), std::vector<std::string>{"m.safetensors"});
  // a path without a directory part saves into the working directory
  const auto cwd = fs::current_path();
  fs::current_path(tmp.path());
  EXPECT_NO_THROW(save_model_file("plain.safetensors", second));
  fs::current_path(cwd);
  expect_same(second, load_model_file(tmp.file("plain.safetensors")));
}

TEST(ModelFileSave, RejectsInvalidModelWithoutTouchingTheOldFile) {
  TempDir tmp;
  const std::string path = tmp.file("m.safetensors");
  save_model_file(path, sample_model());
  const Bytes before = read_bytes(path);
  auto expect_rejected = [&](const ModelFile& bad, const std::string& needle) {
    const std::string msg = error_of([&] { save_model_file(path, bad); });
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_EQ(read_bytes(path), before);
    EXPECT_EQ(listing(tmp.path()), std::vector<std::string>{"m.safetensors"});
  };
  ModelFile m;
  m.tensors.push_back({"w", {2, 3}, std::vector<float>(5)});
  expect_rejected(m, "6 elements but 5 values");
  m.tensors = {{"w", {1}, {1.f}}, {"w", {1}, {2.f}}};
  expect_rejected(m, "two tensors are named 'w'");
  m.tensors = {{"w", {-1}, {}}};
  expect_rejected(m, "bad shape");
  m.tensors = {{"__metadata__", {1}, {1.f}}};
  expect_rejected(m, "invalid tensor name");
  m.tensors = {};
  m.metadata["bad"] = std::string("\xff\xfe", 2);  // not UTF-8: JSON cannot hold it
  expect_rejected(m, "cannot save");
}

TEST(ModelFileSave, KeepsOldFileWhenDirectoryIsUnwritable) {
  TempDir tmp;
  const std::string dir = tmp.file("models");
  fs::create_directories(dir);
  const std::string path = dir + "/m.safetensors";
  save_model_file(path, sample_model());
  const Bytes before = read_bytes(path);
  ModelFile next;
  next.tensors.push_back({"w", {3}, {1.f, 2.f, 3.f}});

  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read | fs::perms::others_exec);
  // root ignores permissions: the save then runs in a child that has become `nobody`
  const int code = run_in_child([&] {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) return 3;
    if (::access(dir.c_str(), W_OK) == 0) return 4;
    try {
      save_model_file(path, next);
      return 1;
    } catch (const Error& e) {
      const std::string msg = e.what();
      return msg.rfind(path + ": cannot save", 0) == 0 && msg.find("Permission denied") != std::string::npos ? 0 : 2;
    }
  });
  fs::permissions(dir, fs::perms::owner_all);
  if (code == 3 || code == 4) GTEST_SKIP() << "cannot make a directory unwritable here (code " << code << ")";
  EXPECT_EQ(code, 0) << "1: saved anyway, 2: wrong message";
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(listing(dir), std::vector<std::string>{"m.safetensors"});
}

TEST(ModelFileSave, KeepsOldFileWhenWritingFails) {
  TempDir tmp;
  const std::string path = tmp.file("m.safetensors");
  save_model_file(path, sample_model());
  const Bytes before = read_bytes(path);
  ModelFile big;
  big.metadata["what"] = "larger than the file-size limit below";
  big.tensors.push_back({"w", {256, 256}, std::vector<float>(256 * 256, 1.f)});
  // a file-size limit makes write() fail with EFBIG part way, like a full disk
  const int code = run_in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit rl{64 * 1024, 64 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) return 3;
    try {
      save_model_file(path, big);
      return 1;
    } catch (const Error& e) {
      return std::string(e.what()).rfind(path + ": cannot save", 0) == 0 ? 0 : 2;
    }
  });
  EXPECT_EQ(code, 0) << "1: saved anyway, 2: wrong message, 3: setrlimit failed";
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(listing(tmp.path()), std::vector<std::string>{"m.safetensors"});
  expect_same(sample_model(), load_model_file(path));
}

TEST(ModelFileSave, FailsIntoMissingDirectoryOrOverADirectory) {
  TempDir tmp;
  const std::string missing = tmp.file("no/such/dir/m.safetensors");
  std::string msg = error_of([&] { save_model_file(missing, sample_model()); });
  EXPECT_EQ(msg.rfind(missing + ": cannot save", 0), 0u) << msg;
  fs::create_directories(tmp.file("taken"));
  msg = error_of([&] { save_model_file(tmp.file("taken"), sample_model()); });
  EXPECT_EQ(msg.rfind(tmp.file("taken") + ": cannot save", 0), 0u) << msg;
  EXPECT_EQ(listing(tmp.path()), std::vector<std::string>{"taken"});
}

// ---------------------------------------------------------------------------------------------------
// hostile files

TEST(ModelFileLoad, RejectsBadHeaderLengths) {
  TempDir tmp;
  const std::string ok = "{" + entry("w", "[1]", 0, 4) + "}";
  expect_load_error(tmp, safetensors_bytes(ok.size() + 1, ok, 0), "larger than the rest of the file");
  expect_load_error(tmp, safetensors_bytes(1000, ok, 4), "larger than the rest of the file");
  expect_load_error(tmp, safetensors_bytes(0, "", 0), "too small");
  expect_load_error(tmp, safetensors_bytes(1, "{", 0), "too small");
  expect_load_error(tmp, safetensors_bytes(uint64_t(1) << 63, ok, 4), "exceeds the 100 MB limit");
  expect_load_error(tmp, safetensors_bytes(~uint64_t(0), ok, 4), "exceeds the 100 MB limit");
  expect_load_error(tmp, Bytes{1, 2, 3}, "too short");
  expect_load_error(tmp, Bytes{}, "too short");
}

TEST(ModelFileLoad, RejectsNonJsonAndNonObjects) {
  TempDir tmp;
  expect_load_error(tmp, safetensors_bytes("this is not json", 0), "not valid JSON");
  expect_load_error(tmp, safetensors_bytes(std::string("{\"a\"\0:1}", 8), 0), "not valid JSON");
  expect_load_error(tmp, safetensors_bytes("{\"w\":{\"dtype\":\"F32\"", 0), "not valid JSON");
  expect_load_error(tmp, safetensors_bytes("{}  trailing", 0), "not valid JSON");
  expect_load_error(tmp, safetensors_bytes("[1,2,3]", 0), "header is a JSON array, not an object");
  expect_load_error(tmp, safetensors_bytes("\"str\"", 0), "not an object");
  expect_load_error(tmp, safetensors_bytes("{\"w\":[1]}", 0), "tensor 'w': header entry is a JSON array, not an object");
  expect_load_error(tmp, safetensors_bytes(std::string(100, '[') + std::string(100, ']'), 0), "nested more than");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[1]", 0, 4) + "," + entry("w", "[1]", 4, 8) + "}", 8),
                    "key 'w' twice");
}

TEST(ModelFileLoad, RejectsWrongDtype) {
  TempDir tmp;
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[2]", 0, 4, "F16") + "}", 4), "dtype \"F16\" is not supported");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[1]", 0, 4, "f32") + "}", 4), "dtype \"f32\"");
  expect_load_error(tmp, safetensors_bytes("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "dtype 32");
}

TEST(ModelFileLoad, RejectsBadShapes) {
  TempDir tmp;
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[2,3]", 0, 20) + "}", 24), "needs 24");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[-1]", 0, 0) + "}", 0), "negative");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[2.5]", 0, 10) + "}", 12), "not an integer");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[\"2\"]", 0, 8) + "}", 8), "not an integer");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "7", 0, 28) + "}", 28), "shape is not an array");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[4294967296,4294967296]", 0, 4) + "}", 4),
                    "more elements than 64 bits");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[18446744073709551615]", 0, 4) + "}", 4), "larger than");
}

TEST(ModelFileLoad, RejectsBadOffsets) {
  TempDir tmp;
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[2]", 0, 8) + "}", 4), "lie outside the data section of 4");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[2]", 8, 0) + "}", 8), "lie outside");
  expect_load_error(tmp, safetensors_bytes("{" + entry("w", "[1]", 18446744073709551612u, 0) + "}", 8), "lie outside");
  expect_load_error(tmp, safetensors_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
                    "is not [begin, end]");
  expect_load_error(tmp, safetensors_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4),
                    "negative");
}

TEST(ModelFileLoad, RejectsOverlappingTensors) {
  TempDir tmp;
  expect_load_error(tmp, safetensors_bytes("{" + entry("a", "[3]", 0, 12) + "," + entry("b", "[2]", 8, 16) + "}", 16),
                    "overlap");
  expect_load_error(tmp, safetensors_bytes("{" + entry("a", "[2]", 4, 12) + "," + entry("b", "[2]", 4, 12) + "}", 16),
                    "overlap");
  // the overlap is found whatever order the header lists the tensors in
  expect_load_error(tmp,
                    safetensors_bytes("{" + entry("c", "[1]", 12, 16) + "," + entry("a", "[4]", 0, 16) + "," +
                                          entry("b", "[1]", 20, 24) + "}",
                                      24),
                    "overlap");
}

TEST(ModelFileLoad, RejectsBadEntriesAndMetadata) {
  TempDir tmp;
  const std::string w = entry("w", "[1]", 0, 4);
  expect_load_error(tmp, safetensors_bytes("{\"__metadata__\":{\"epochs\":12}," + w + "}", 4),
                    "value of 'epochs' is a JSON number");
  expect_load_error(tmp, safetensors_bytes("{\"__metadata__\":{\"a\":null}," + w + "}", 4), "is a JSON null");
  expect_load_error(tmp, safetensors_bytes("{\"__metadata__\":[\"a\"]," + w + "}", 4), "__metadata__ is a JSON array");
  expect_load_error(
      tmp, safetensors_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4),
      "unknown key 'extra'");
  expect_load_error(tmp, safetensors_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "no 'data_offsets'");
}

TEST(ModelFileLoad, RejectsTruncatedData) {
  TempDir tmp;
  save_model_file(tmp.file("full.safetensors"), sample_model());
  const Bytes full = read_bytes(tmp.file("full.safetensors"));
  expect_load_error(tmp, Bytes(full.begin(), full.end() - 4), "truncated or corrupt");
  expect_load_error(tmp, Bytes(full.begin(), full.begin() + 20), "larger than the rest of the file");
}

TEST(ModelFileLoad, ReportsMissingFile) {
  TempDir tmp;
  const std::string path = tmp.file("absent.safetensors");
  const std::string msg = error_of([&] { load_model_file(path); });
  EXPECT_EQ(msg.rfind(path + ": cannot open", 0), 0u) << msg;
  const std::string dir_msg = error_of([&] { load_model_file(tmp.path()); });
  EXPECT_EQ(dir_msg.rfind(tmp.path() + ": ", 0), 0u) << dir_msg;
}

// Every truncation and every single-byte change of a small valid file either loads or throws
// digits::Error naming the file: never a crash, never another exception.
TEST(ModelFileLoad, SurvivesEveryTruncationAndByteFlip) {
  TempDir tmp;
  ModelFile m;
  m.metadata["k"] = "v";
  m.tensors.push_back({"a", {2, 2}, {1.f, 2.f, 3.f, 4.f}});
  m.tensors.push_back({"b", {3}, {5.f, 6.f, 7.f}});
  save_model_file(tmp.file("ok.safetensors"), m);
  const Bytes good = read_bytes(tmp.file("ok.safetensors"));
  const std::string path = tmp.file("fuzz.safetensors");
  auto try_load = [&](const Bytes& bytes, const std::string& what) {
    write_bytes(path, bytes);
    try {
      load_model_file(path);
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << what << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": non-digits exception " << e.what();
    }
  };
  for (size_t n = 0; n < good.size(); ++n) try_load(Bytes(good.begin(), good.begin() + long(n)), "cut at " + std::to_string(n));
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t x : {uint8_t(0x01), uint8_t(0x20), uint8_t(0x80), uint8_t(0xFF)}) {
      Bytes b = good;
      b[i] ^= x;
      try_load(b, "byte " + std::to_string(i) + " ^ " + std::to_string(x));
    }
  }
}

}  // namespace
}  // namespace digits
