// digits: train | eval | predict | finetune | export | bench | info. Every error is reported in one line with a non-zero exit.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "common.h"
#include "error.h"

int main(int argc, char** argv) {
  CLI::App app{"digits: handwritten-digit recognition (train, evaluate, predict, export, benchmark)"};
  app.set_version_flag("--version", std::string("digits ") + DIGITS_VERSION);
  app.require_subcommand(1);
  digits::cli::register_train(app);
  digits::cli::register_eval(app);
  digits::cli::register_predict(app);
  digits::cli::register_export(app);
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
