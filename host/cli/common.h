// Shared pieces of the `digits` subcommands: common flags, backend choice, data loading, errors.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "backend.h"
#include "mnist_idx.h"

namespace digits::cli {

struct Common {
  std::string device;   // --device (else DIGITS_DEVICE, else auto)
  int threads = 0;      // --threads (0 = all cores)
  std::string data;     // --data DIR
  bool json = false;    // --json
  bool deterministic = false;  // --deterministic (train): reaches the backend as a value, never the environment
};

void add_device_flags(CLI::App* cmd, Common& c);
void add_data_flag(CLI::App* cmd, Common& c);

// Chooses the backend and prints the one-line reason to stderr.
BackendChoice choose_backend(const Common& c);
// "data: DIR (N train, M test images)" on stderr: which MNIST a command uses.
void print_data_line(const Mnist& m);
// MNIST from find_mnist_dir(c.data) (--data DIR, then $MNIST_DIR, then data/mnist/), with a one-line log to
// stderr: both splits (load_mnist), or the test split alone for the commands that only measure.
Mnist load_data(const Common& c);
Dataset load_test_data(const Common& c);

void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_predict(CLI::App& app);
void register_info(CLI::App& app);
void register_bench(CLI::App& app);
void register_export(CLI::App& app);
void register_finetune(CLI::App& app);

}  // namespace digits::cli
