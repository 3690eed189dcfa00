// The kernel report's data and its JSON and markdown writers (kernel_report.h).
#include "kernel_report.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <sstream>
#include <system_error>

#include "atomic_file.h"
#include "error.h"
#include "png_rgb.h"
#include "report_chart.h"

namespace digits {

const BackendPeaks& KernelReport::peaks(const std::string& backend) const {
  for (const BackendPeaks& b : backends)
    if (b.backend == backend) return b;
  DIGITS_FAIL("kernel report: no peaks for backend '" << backend << "'");
}

KernelRow make_kernel_row(const KernelReport& report, KernelRow row) {
  row.point = roofline(row.flops, row.bytes, row.seconds, report.peaks(row.backend).peak());
  return row;
}

// ---- JSON ------------------------------------------------------------------------------------------------
namespace {

nlohmann::json samples_json(const std::vector<PeakSample>& v) {
  nlohmann::json j = nlohmann::json::object();
  for (const PeakSample& s : v) j[s.name] = s.value;
  return j;
}

nlohmann::json kernel_json(const KernelRow& k) {
  return {{"op", k.op}, {"label", k.label}, {"shape", k.shape}, {"backend", k.backend}, {"variant", k.variant},
          {"time_us", k.seconds * 1e6}, {"flops", k.flops}, {"bytes", k.bytes}, {"gflops", k.point.gflops},
          {"gbs", k.point.gbs}, {"intensity", k.point.intensity}, {"bound", to_string(k.point.bound)},
          {"pct_of_peak", k.point.pct_of_peak}};
}

}  // namespace

nlohmann::json to_json(const KernelReport& r) {
  nlohmann::json j;
  j["machine"] = r.machine;
  for (const BackendPeaks& b : r.backends) {
    const MachinePeak p = b.peak();
    j["peaks"][b.backend] = {{"device", b.device}, {"arithmetic_gflops", samples_json(b.measured.arithmetic)},
                             {"bandwidth_gbs", samples_json(b.measured.bandwidth)}, {"peak_gflops", p.gflops},
                             {"peak_gbs", p.gbs}, {"ridge_intensity", ridge_intensity(p)}};
  }
  j["skipped"] = r.skipped;
  j["kernels"] = nlohmann::json::array();
  for (const KernelRow& k : r.kernels) j["kernels"].push_back(kernel_json(k));
  j["train_steps"] = nlohmann::json::array();
  for (const TrainRow& t : r.train_steps)
    j["train_steps"].push_back({{"preset", t.preset}, {"backend", t.backend}, {"batch", t.batch},
                                {"time_ms", t.seconds * 1e3}, {"images_per_s", t.images_per_s()},
                                {"gflop_per_step", t.flops * 1e-9}, {"gflops", t.gflops()},
                                {"pct_of_peak_flops", 100.0 * t.gflops() / r.peaks(t.backend).peak().gflops}});
  return j;
}

// ---- markdown --------------------------------------------------------------------------------------------
namespace {

// printf into a string (numbers in tables).
template <class... A>
std::string fmt(const char* f, A... a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a...);
  return buf;
}

// One markdown table row: "| a | b | ... |".
void table_row(std::ostringstream& os, std::initializer_list<std::string> cells) {
  for (const std::string& c : cells) os << "| " << c << " ";
  os << "|\n";
}

std::string time_text(double seconds) {
  return seconds >= 1e-3 ? fmt("%.2f ms", seconds * 1e3) : fmt("%.1f us", seconds * 1e6);
}

void peaks_markdown(std::ostringstream& os, const KernelReport& r) {
  os << "## Peaks (measured on this machine)\n\n| backend | device | arithmetic (GFLOP/s) | bandwidth (GB/s) | "
        "ridge (FLOP/byte) |\n|---|---|---|---|---|\n";
  for (const BackendPeaks& b : r.backends) {
    os << "| " << b.backend << " | " << b.device << " |";
    for (const auto* list : {&b.measured.arithmetic, &b.measured.bandwidth}) {
      for (size_t i = 0; i < list->size(); ++i) os << (i ? "; " : " ") << (*list)[i].name << " " << fmt("%.1f", (*list)[i].value);
      os << " |";
    }
    os << " " << fmt("%.2f", ridge_intensity(b.peak())) << " |\n";
  }
  for (const std::string& s : r.skipped) os << "\nSkipped: " << s << "\n";
  os << "\n";
}

void kernels_markdown(std::ostringstream& os, const KernelReport& r) {
  os << "## Ops at the presets' shapes\n\n% of peak: of the peak FLOP/s for a compute-bound op (intensity at or "
        "above the ridge), of the peak bandwidth for a memory-bound one.\n\n"
        "| op | layer | shape | backend/variant | time | GFLOP/s | GB/s | FLOP/byte | bound | % of peak |\n"
        "|---|---|---|---|---:|---:|---:|---:|---|---:|\n";
  for (const KernelRow& k : r.kernels)
    table_row(os, {k.op, k.label, k.shape, k.backend + "/" + k.variant, time_text(k.seconds),
                   fmt("%.2f", k.point.gflops), fmt("%.2f", k.point.gbs), fmt("%.2f", k.point.intensity),
                   to_string(k.point.bound), fmt("%.1f", k.point.pct_of_peak)});
  os << "\n";
}

void train_markdown(std::ostringstream& os, const KernelReport& r) {
  os << "## Whole training step per preset\n\nFLOPs: convolutions and dense layers, forward and backward (the "
        "first layer computes no input gradient); % of the backend's peak FLOP/s.\n\n"
        "| preset | backend | batch | time per step | images/s | GFLOP per step | GFLOP/s | % of peak FLOP/s |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|\n";
  for (const TrainRow& t : r.train_steps)
    table_row(os, {t.preset, t.backend, std::to_string(t.batch), time_text(t.seconds), fmt("%.0f", t.images_per_s()),
                   fmt("%.3f", t.flops * 1e-9), fmt("%.2f", t.gflops()),
                   fmt("%.1f", 100.0 * t.gflops() / r.peaks(t.backend).peak().gflops)});
}

}  // namespace

std::string to_markdown(const KernelReport& r) {
  std::ostringstream os;
  os << "# Kernel report\n\nMachine: " << r.machine << "\n\n![roofline](kernels.png)\n\n";
  peaks_markdown(os, r);
  kernels_markdown(os, r);
  train_markdown(os, r);
  return os.str();
}

// ---- files -----------------------------------------------------------------------------------------------
namespace {

void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, [&](std::FILE* f) -> std::string {
    return std::fwrite(text.data(), 1, text.size(), f) == text.size() ? "" : "short write";
  });
}

}  // namespace

void write_kernel_report(const std::string& dir, const KernelReport& r) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  DIGITS_CHECK(!ec && std::filesystem::is_directory(dir), dir << ": cannot create the report directory"
                                                              << (ec ? ": " + ec.message() : std::string()));
  const std::string base = (std::filesystem::path(dir) / "kernels").string();
  write_text(base + ".json", to_json(r).dump(2) + "\n");
  write_text(base + ".md", to_markdown(r));
  save_png_rgb(base + ".png", roofline_chart(r));
}

}  // namespace digits
