// EnvGuard: restores an environment variable when a test ends; with a value, sets (or, for null, unsets)
// it for the test's duration.
#pragma once

#include <cstdlib>
#include <string>

namespace digits::testing {

class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) had_ = true, old_ = v;
  }
  EnvGuard(const char* name, const char* value) : EnvGuard(name) {
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~EnvGuard() {
    if (had_) ::setenv(name_, old_.c_str(), 1);
    else ::unsetenv(name_);
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

}  // namespace digits::testing
