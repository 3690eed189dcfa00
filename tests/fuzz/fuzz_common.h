// The libFuzzer side of the targets: one scratch directory per process (the readers under test take
// paths), and the rule every target checks: a reader either succeeds or throws digits::Error. Anything
// else (another exception, a broken promise) aborts, so libFuzzer records the input as a crash.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "error.h"

namespace digits::fuzz {

// A private directory for this process, in /dev/shm when it is writable (no disk writes per input). It
// is removed at a normal exit; a crash leaves it for inspection.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    const std::string base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : tmp ? tmp : "/tmp";
    std::string tmpl = base + "/digits_fuzz_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("digits fuzz: mkdtemp");
      std::abort();
    }
    return tmpl;
  }();
  static const bool cleanup = [] {
    std::atexit([] {
      for (const char* name : {"/input", "/train-images-idx3-ubyte", "/train-labels-idx1-ubyte"})
        ::unlink((dir + name).c_str());
      ::rmdir(dir.c_str());
    });
    return true;
  }();
  (void)cleanup;
  return dir;
}

// Runs f: success and digits::Error are both fine; anything else is a bug.
template <class F>
void expect_success_or_error(F&& f) {
  try {
    f();
  } catch (const Error&) {
    // the reader refused the input with a message: what it should do
  } catch (const std::exception& e) {
    std::fprintf(stderr, "digits fuzz: not a digits::Error: %s\n", e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "digits fuzz: a non-std exception escaped\n");
    std::abort();
  }
}

}  // namespace digits::fuzz
