// The kernel report of `digits bench --kernels --report DIR`: every op at the presets' real shapes on every
// backend and variant, and the whole training step per preset, each placed against the machine's measured
// peaks (roofline.h). This file holds the report's data and its writers: DIR/kernels.json, DIR/kernels.md
// and DIR/kernels.png (report_chart.h). The measuring is the CLI's (host/cli/kernel_bench.cpp).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "peaks.h"
#include "roofline.h"

namespace digits {

// One backend's peaks and what they were measured with.
struct BackendPeaks {
  std::string backend;                 // "cpu", "cuda"
  std::string device;   // e.g. "AMD EPYC 9354P, 2 threads", "NVIDIA H200 (sm_90)"
  Peaks measured;
  MachinePeak peak() const { return measured.peak(); }
};

// One op of one case on one backend and variant.
struct KernelRow {
  std::string op, label, shape;  // the op harness's case (tests/harness/op_cases.cpp)
  std::string backend, variant;  // e.g. "cpu" / "winograd", "cuda" / "cudnn IMPLICIT_GEMM"
  double seconds = 0;            // per call (median)
  double flops = 0, bytes = 0;   // per call (the harness's counts)
  RooflinePoint point;
};

// One whole training step (TrainStep::run) of a preset on one backend.
struct TrainRow {
  std::string preset, backend;
  int batch = 0;
  double seconds = 0;  // per step (median)
  double flops = 0;    // per step: convolutions and dense layers, forward and backward
  double images_per_s() const { return batch / seconds; }
  double gflops() const { return flops / seconds * 1e-9; }
};

struct KernelReport {
  std::string machine;  // CPU model, threads, build
  std::vector<BackendPeaks> backends;
  std::vector<std::string> skipped;  // one line per backend not measured, and why
  std::vector<KernelRow> kernels;
  std::vector<TrainRow> train_steps;
  // The peaks of `backend`; digits::Error when the report has none.
  const BackendPeaks& peaks(const std::string& backend) const;
};

// A row with its roofline point from the backend's peaks. requires: report.peaks(row.backend) exists.
KernelRow make_kernel_row(const KernelReport& report, KernelRow row);

nlohmann::json to_json(const KernelReport& r);
std::string to_markdown(const KernelReport& r);
// Creates `dir` if needed and writes kernels.json, kernels.md and kernels.png there (each atomically).
void write_kernel_report(const std::string& dir, const KernelReport& r);

}  // namespace digits
