// digits: train | eval | predict | finetune | bench | info. Every error is reported in one line with a non-zero exit.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common.h"
#include "error.h"

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

Mnist load_data(const Common& c) {
  const std::string dir = find_mnist_dir(c.data);
  Mnist m = load_mnist(dir);
  std::cerr << "data: " << dir << " (" << m.train.count << " train, " << m.test.count << " test images)\n";
  return m;
}

}  // namespace digits::cli

int main(int argc, char** argv) {
  CLI::App app{"digits: handwritten-digit recognition (train, evaluate, predict, benchmark)"};
  app.set_version_flag("--version", std::string("digits ") + DIGITS_VERSION);
  app.require_subcommand(1);
  digits::cli::register_train(app);
  digits::cli::register_eval(app);
  digits::cli::register_predict(app);
  digits::cli::register_bench(app);
  digits::cli::register_finetune(app);
  digits::cli::register_info(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const digits::Error& e) {
    std::fflush(stdout);
    std::cerr << "digits: error: " << e.what() << "\n";
    if (const char* dbg = std::getenv("DIGITS_DEBUG"); dbg && *dbg == '1' && !e.where().empty())
      std::cerr << "digits: (" << e.where() << ")\n";
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << "digits: internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
