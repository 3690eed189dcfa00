// write_file_atomic: replaces the target whole or not at all, removes its temporary on every failure, and
// removes the temporaries a killed save left behind, but never a live process's.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "atomic_file.h"
#include "error.h"
#include "testing/error_of.h"
#include "testing/files.h"

namespace digits {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::listing;
using testing::TempDir;

void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, [&](std::FILE* f) {
    return std::fwrite(text.data(), 1, text.size(), f) == text.size() ? std::string() : std::string("short write");
  });
}

std::string read_text(const std::string& path) {
  const testing::Bytes b = testing::read_bytes(path);
  return std::string(b.begin(), b.end());
}

// The pid of a child that has exited and been reaped: no process has it (until the kernel reuses it).
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return pid;
}

TEST(AtomicFile, WritesAndReplacesLeavingNoTemporary) {
  TempDir tmp;
  const std::string path = tmp.file("a.txt");
  write_text(path, "first");
  write_text(path, "second");
  EXPECT_EQ(read_text(path), "second");
  EXPECT_EQ(listing(tmp.path()), std::vector<std::string>{"a.txt"});
}

TEST(AtomicFile, FailureKeepsTheOldFileAndRemovesTheTemporary) {
  TempDir tmp;
  const std::string path = tmp.file("a.txt");
  write_text(path, "old");
  EXPECT_EQ(error_of([&] {
              write_file_atomic(path, [](std::FILE* f) {
                std::fputs("partial", f);
                return std::string("the encoder gave up");
              });
            }),
            path + ": cannot save: the encoder gave up");
  EXPECT_THROW(write_file_atomic(path, [](std::FILE*) -> std::string { throw Error("thrown by fill"); }), Error);
  EXPECT_EQ(read_text(path), "old");
  EXPECT_EQ(listing(tmp.path()), std::vector<std::string>{"a.txt"});
}

TEST(AtomicFile, NamesThePathWhenTheDirectoryIsMissing) {
  TempDir tmp;
  const std::string path = tmp.file("no/such/dir/a.txt");
  const std::string msg = error_of([&] { write_text(path, "x"); });
  EXPECT_EQ(msg.rfind(path + ": cannot save: cannot create ", 0), 0u) << msg;
  EXPECT_NE(msg.find("does the directory exist?"), std::string::npos) << msg;
}

// A save killed before its rename leaves "<target>.tmp.<pid>[.<n>]": the next save of that target removes
// it when its process is gone, and leaves live processes' temporaries and other files alone.
TEST(AtomicFile, NextSaveRemovesStaleTemporariesOnly) {
  TempDir tmp;
  const std::string path = tmp.file("m.safetensors");
  const std::string dead = std::to_string(dead_pid()), self = std::to_string(::getpid()),
                    parent = std::to_string(::getppid());
  const std::vector<std::string> stale = {"m.safetensors.tmp." + dead, "m.safetensors.tmp." + dead + ".3"};
  const std::vector<std::string> kept = {"m.safetensors.tmp." + self + ".7",   // this process: live
                                         "m.safetensors.tmp." + parent,        // a live process
                                         "other.safetensors.tmp." + dead,      // another target's
                                         "m.safetensors.tmp." + dead + ".x",   // not a name we write
                                         "m.safetensors.tmp.0", "m.safetensors.tmp.-" + dead,
                                         "m.safetensors.tmpx." + dead};
  for (const auto& n : stale) testing::write_bytes(tmp.file(n), {'x'});
  for (const auto& n : kept) testing::write_bytes(tmp.file(n), {'x'});
  write_text(path, "model");
  std::vector<std::string> want = kept;
  want.push_back("m.safetensors");
  std::sort(want.begin(), want.end());
  EXPECT_EQ(listing(tmp.path()), want);
  EXPECT_EQ(read_text(path), "model");
  EXPECT_EQ(remove_stale_temporaries(path), 0u);
}

TEST(AtomicFile, StaleTemporariesOfAPathWithoutADirectoryPart) {
  TempDir tmp;
  const auto cwd = fs::current_path();
  fs::current_path(tmp.path());
  const std::string stale = "plain.txt.tmp." + std::to_string(dead_pid()) + ".0";
  testing::write_bytes(stale, {'x'});
  write_text("plain.txt", "saved");
  fs::current_path(cwd);
  EXPECT_EQ(listing(tmp.path()), std::vector<std::string>{"plain.txt"});
}

}  // namespace
}  // namespace digits
