// digits::Error and the checks every layer uses.
// DIGITS_CHECK is always on (contract violations, bad input); DIGITS_DCHECK only in debug builds.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace digits {

// Every failure the program reports to a user is a digits::Error (or a subclass such as CudaError).
// what() is the message for the user; where() is the failed check and its file:line, for developers
// (the CLI prints it with DIGITS_DEBUG=1).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, std::string where = {}) : std::runtime_error(what), where_(std::move(where)) {}
  const std::string& where() const { return where_; }

 private:
  std::string where_;
};

namespace detail {
[[noreturn]] inline void check_failed(const char* expr, const char* file, int line, const std::string& msg) {
  std::ostringstream where;
  where << "check `" << expr << "` failed at " << file << ":" << line;
  throw Error(msg, where.str());
}
}  // namespace detail

}  // namespace digits

// DIGITS_CHECK(cond, "message " << value): throws digits::Error with the message, expression and location.
#define DIGITS_CHECK(cond, msg)                                                    \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::ostringstream digits_check_os_;                                         \
      digits_check_os_ << msg;                                                     \
      ::digits::detail::check_failed(#cond, __FILE__, __LINE__, digits_check_os_.str()); \
    }                                                                              \
  } while (0)

#ifdef NDEBUG
#define DIGITS_DCHECK(cond, msg) \
  do {                           \
  } while (0)
#else
#define DIGITS_DCHECK(cond, msg) DIGITS_CHECK(cond, msg)
#endif

// Throws a digits::Error built from a stream expression: DIGITS_FAIL("cannot open " << path).
#define DIGITS_FAIL(msg)                    \
  do {                                      \
    std::ostringstream digits_fail_os_;     \
    digits_fail_os_ << msg;                 \
    throw ::digits::Error(digits_fail_os_.str()); \
  } while (0)
