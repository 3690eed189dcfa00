// Replays every file in tests/fuzz/regressions/ (inputs that once crashed a fuzz target) through all three
// fuzz targets' logic (tests/fuzz/fuzz_inputs.h): IDX (each mode), safetensors + model loading, image
// decoding + preprocessing. Each must succeed or throw digits::Error: no other exception, no crash, and
// (in the sanitizer build) no sanitizer report.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "error.h"
#include "fuzz/fuzz_inputs.h"

namespace digits {
namespace {

namespace fs = std::filesystem;

const fs::path kRegressions = fs::path(DIGITS_TESTS_DIR) / "fuzz" / "regressions";

std::vector<fs::path> regression_files() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kRegressions))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = ::testing::TempDir() + "digits_fuzz_regression_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs one target's logic on one file: success or digits::Error pass, anything else fails the test.
template <class F>
void replay(const fs::path& file, const char* target, F&& run) {
  SCOPED_TRACE(std::string(target) + " on " + file.filename().string());
  try {
    run();
  } catch (const Error&) {
    // refused with a message: fine
  } catch (const std::exception& e) {
    ADD_FAILURE() << target << " on " << file << " threw something other than digits::Error: " << e.what();
  }
}

TEST(FuzzRegressions, DirectoryHoldsInputs) {
  ASSERT_TRUE(fs::is_directory(kRegressions)) << kRegressions;
  EXPECT_FALSE(regression_files().empty()) << kRegressions;
}

TEST(FuzzRegressions, EveryInputIsHandledByEveryReader) {
  ScratchDir scratch;
  for (const fs::path& file : regression_files()) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const uint8_t* data = bytes.data();
    const size_t size = bytes.size();
    replay(file, "idx", [&] { fuzz::idx_input(data, size, scratch.path()); });
    // The IDX target's other modes on the same bytes: mode byte replaced by each of the four.
    for (uint8_t mode = 0; mode < 4 && size > 0; ++mode) {
      std::vector<uint8_t> moded(bytes);
      moded[0] = mode;
      replay(file, "idx (each mode)", [&] { fuzz::idx_input(moded.data(), moded.size(), scratch.path()); });
    }
    replay(file, "safetensors", [&] { fuzz::safetensors_input(data, size, scratch.path()); });
    replay(file, "image", [&] { fuzz::image_input(data, size); });
  }
}

}  // namespace
}  // namespace digits
