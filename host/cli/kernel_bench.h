// `digits bench --kernels --report DIR`: measures the kernel report (host/kernel_report.h) of this machine.
// Every op of the op harness's table at the presets' real shapes (tests/harness/op_cases.cpp, batch 128)
// on the CPU (each convolution with every algorithm the CPU code has for it: Winograd, direct, im2col) and,
// when a device is usable, on CUDA (the backend's op; for convolutions also our direct kernels and every
// cuDNN algorithm); the whole training step of each preset on each backend; and the peaks they are
// compared with, measured here and now.
#pragma once

#include <string>
#include <vector>

#include "backend.h"
#include "kernel_report.h"
#include "train_config.h"
#include "train_step.h"

namespace digits::cli {

struct KernelBenchArgs {
  std::string machine;               // the report's header (CPU model, conditions)
  std::string cpu;                   // the CPU model
  int threads = 0;                   // CPU threads (0: all cores)
  double min_time = 0.1;             // seconds of timed calls per op and variant (at least 3 calls)
  std::string filter;                // only ops whose "op label" contains this (empty: all)
  std::vector<std::string> presets;  // training steps of these presets
  int train_steps = 10;              // timed steps per preset and backend
  bool quick = false;                // shorter peak measurements
  bool cuda = true;                  // false: the CPU only (--device cpu)
};

KernelReport run_kernel_bench(const KernelBenchArgs& a);

// Seconds per training step (TrainStep::run, what `digits train` runs) of preset p on `be`: the mean of
// `steps` steps after 3 warm-up steps, on the first batch of `data` over and over. Shared with `digits bench`.
double train_step_seconds(Backend& be, const Preset& p, const ResidentData& data, const int32_t* index, int steps);

}  // namespace digits::cli
