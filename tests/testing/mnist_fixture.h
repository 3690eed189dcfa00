// The real MNIST for tests that need it: found with find_mnist_dir("") (so MNIST_DIR works), loaded once
// per test binary and cached. Without the data a test skips with the finder's message, or fails with it
// when DIGITS_REQUIRE_DATA=1 (CI that must not silently skip). Usage, in a test body or SetUp():
//   DIGITS_REQUIRE_MNIST(mnist);   // const digits::Mnist* mnist, never null after this line
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "error.h"
#include "mnist_idx.h"

namespace digits::testing {

struct MnistLoad {
  const Mnist* mnist = nullptr;  // null when the data could not be found or loaded
  std::string error;             // why, from find_mnist_dir / load_mnist
};

// Loads MNIST on the first call (thread-safe), then returns the same result. The data set is never freed.
inline const MnistLoad& mnist_load() {
  static const MnistLoad cached = [] {
    MnistLoad r;
    try {
      r.mnist = new Mnist(load_mnist(find_mnist_dir("")));
    } catch (const Error& e) {
      r.error = e.what();
    }
    return r;
  }();
  return cached;
}

// The cached data set, or nullptr when it is missing (mnist_missing_reason() says why).
inline const Mnist* require_mnist() { return mnist_load().mnist; }
inline const std::string& mnist_missing_reason() { return mnist_load().error; }

// True when DIGITS_REQUIRE_DATA=1: a missing data set is then a failure, not a skip.
inline bool mnist_required() {
  const char* v = std::getenv("DIGITS_REQUIRE_DATA");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

}  // namespace digits::testing

// Declares `const digits::Mnist* var`. When the data is missing it returns from the enclosing function
// (a test body, SetUp() or SetUpTestSuite()) after GTEST_SKIP, or after FAIL when DIGITS_REQUIRE_DATA=1.
#define DIGITS_REQUIRE_MNIST(var)                                                                    \
  const ::digits::Mnist* var = ::digits::testing::require_mnist();                                   \
  do {                                                                                               \
    if (var == nullptr) {                                                                            \
      if (::digits::testing::mnist_required()) {                                                     \
        FAIL() << "MNIST required (DIGITS_REQUIRE_DATA=1): " << ::digits::testing::mnist_missing_reason(); \
      }                                                                                              \
      GTEST_SKIP() << "MNIST not available: " << ::digits::testing::mnist_missing_reason();          \
    }                                                                                                \
  } while (0)
