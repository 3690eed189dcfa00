// Shared pieces of the `digits` subcommands (common.h): the device and data flags, the backend choice and
// finding and loading MNIST, each with its one log line on stderr.
#include "common.h"

#include <cstdlib>
#include <iostream>

namespace digits::cli {

void add_device_flags(CLI::App* cmd, Common& c) {
  cmd->add_option("--device", c.device, "auto | cpu | cuda (default: $DIGITS_DEVICE or auto)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--threads", c.threads, "CPU threads (default: all cores)")->check(CLI::Range(0, 1024));
}

void add_data_flag(CLI::App* cmd, Common& c) {
  cmd->add_option("--data", c.data, "MNIST directory (default: $MNIST_DIR, then data/mnist)");
}

BackendChoice choose_backend(const Common& c) {
  BackendOptions o = BackendOptions::from_env();  // the environment's defaults; flags win
  if (!c.device.empty()) o.device = parse_device_pref(c.device);
  o.threads = c.threads;
  o.deterministic = c.deterministic;
  // Fault injection for the CLI tests (tests/unit/backend_probe_test.cpp): a CUDA start-up step that fails.
  if (const char* v = std::getenv("DIGITS_FAULT_INJECT"); v && *v) o.fail_probe_step = v;
  BackendChoice choice = select_backend(o);
  std::cerr << choice.reason << "\n";
  return choice;
}

void print_data_line(const Mnist& m) {
  std::cerr << "data: " << m.dir << " (" << m.train.count << " train, " << m.test.count << " test images)\n";
}

Mnist load_data(const Common& c) {
  Mnist m = load_mnist(find_mnist_dir(c.data));
  print_data_line(m);
  return m;
}

Dataset load_test_data(const Common& c) {
  const std::string dir = find_mnist_dir(c.data);
  Dataset test = load_split(dir, "t10k");
  std::cerr << "data: " << dir << " (" << test.count << " test images)\n";
  return test;
}

}  // namespace digits::cli
