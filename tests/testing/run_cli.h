// Runs the built `digits` command in a shell and captures its exit status and output (stdout + stderr).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace digits::testing {

struct CliResult {
  int status = -1;  // exit code
  std::string output;
};

inline std::string digits_binary() { return std::string(DIGITS_BINARY_DIR) + "/digits"; }

// `args` is appended to the binary's path as shell words; stderr is merged into output. `env` (shell
// words such as "DIGITS_FAULT_INJECT=kernel") is set for that one command.
inline CliResult run_digits(const std::string& args, const std::string& env = "") {
  CliResult r;
  const std::string cmd = (env.empty() ? "" : env + " ") + digits_binary() + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace digits::testing
