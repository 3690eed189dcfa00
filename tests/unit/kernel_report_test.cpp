// The kernel report (`digits bench --kernels --report DIR`): the roofline arithmetic, the CPU peak
// microbenchmarks, the CPU convolution's algorithm switches, the JSON and markdown writers, the chart (a PNG
// of the right size that decodes, with the points and roofs drawn) and the command on a tiny filter.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cpu/cpu_conv.h"
#include "cpu/cpu_winograd.h"
#include "cuda_tools.h"
#include "error.h"
#include "image_io.h"
#include "kernel_report.h"
#include "peaks.h"
#include "raster.h"
#include "report_chart.h"
#include "roofline.h"
#include "testing/files.h"
#include "testing/run_cli.h"

namespace digits {
namespace {

using testing::TempDir;

const MachinePeak kPeak{100.0, 20.0};  // ridge at 5 FLOP/byte

// ---- roofline arithmetic ---------------------------------------------------------------------------------
TEST(Roofline, RidgeAndAttainable) {
  EXPECT_DOUBLE_EQ(ridge_intensity(kPeak), 5.0);
  EXPECT_DOUBLE_EQ(attainable_gflops(1.0, kPeak), 20.0);   // on the bandwidth slope
  EXPECT_DOUBLE_EQ(attainable_gflops(5.0, kPeak), 100.0);  // at the ridge
  EXPECT_DOUBLE_EQ(attainable_gflops(50.0, kPeak), 100.0);  // under the flat roof
}

TEST(Roofline, MemoryBoundOpIsMeasuredAgainstBandwidth) {
  // 1 GFLOP on 2 GB in 0.5 s: 2 GFLOP/s, 4 GB/s, intensity 0.5 < 5: 4 / 20 = 20 % of the bandwidth
  const RooflinePoint p = roofline(1e9, 2e9, 0.5, kPeak);
  EXPECT_DOUBLE_EQ(p.intensity, 0.5);
  EXPECT_DOUBLE_EQ(p.gflops, 2.0);
  EXPECT_DOUBLE_EQ(p.gbs, 4.0);
  EXPECT_EQ(p.bound, Bound::Memory);
  EXPECT_NEAR(p.pct_of_peak, 20.0, 1e-12);
  // the same as achieved over attainable FLOP/s at that intensity
  EXPECT_NEAR(p.pct_of_peak, 100.0 * p.gflops / attainable_gflops(p.intensity, kPeak), 1e-12);
}

TEST(Roofline, ComputeBoundOpIsMeasuredAgainstFlops) {
  // 40 GFLOP on 1 GB in 1 s: intensity 40 > 5: 40 / 100 = 40 % of the FLOP/s
  const RooflinePoint p = roofline(40e9, 1e9, 1.0, kPeak);
  EXPECT_EQ(p.bound, Bound::Compute);
  EXPECT_NEAR(p.pct_of_peak, 40.0, 1e-12);
  EXPECT_EQ(roofline(5e9, 1e9, 1.0, kPeak).bound, Bound::Compute);  // the ridge itself
  EXPECT_EQ(roofline(0, 1e9, 1.0, kPeak).bound, Bound::Memory);     // no arithmetic
  EXPECT_STREQ(to_string(Bound::Memory), "memory");
}

TEST(Roofline, RefusesMeaninglessInput) {
  EXPECT_THROW(roofline(1, 1, 0, kPeak), Error);
  EXPECT_THROW(roofline(1, 1, -1, kPeak), Error);
  EXPECT_THROW(roofline(0, 0, 1, kPeak), Error);
  EXPECT_THROW(roofline(-1, 1, 1, kPeak), Error);
  EXPECT_THROW(roofline(1, 1, 1, MachinePeak{0, 1}), Error);
  EXPECT_THROW(ridge_intensity(MachinePeak{1, NAN}), Error);
}

// ---- peaks -----------------------------------------------------------------------------------------------
TEST(CpuPeaks, OneLoopPerInstructionSetAndBothStreams) {
  const Peaks p = measure_cpu_peaks(1, 0.02, 3, 16);
  const std::vector<std::string> isas = cpu_fma_isas();
  ASSERT_EQ(p.arithmetic.size(), isas.size());
  EXPECT_EQ(isas.back(), "mul+add sse");  // every x86-64 has SSE
  for (size_t i = 0; i < isas.size(); ++i) {
    EXPECT_EQ(p.arithmetic[i].name, isas[i]);
    EXPECT_GT(p.arithmetic[i].value, 0.1) << isas[i];  // any CPU of this century does more on one core
  }
  // No ratio between the loops is asserted: that is a speed, and speeds belong to benchmarks (under ASan, or
  // on a loaded machine, the AVX2 loop measured below the SSE one).
  ASSERT_EQ(p.bandwidth.size(), 2u);
  EXPECT_EQ(p.bandwidth[0].name, "copy");
  EXPECT_EQ(p.bandwidth[1].name, "triad");
  for (const PeakSample& s : p.bandwidth) EXPECT_GT(s.value, 0.1) << s.name;
  const MachinePeak m = p.peak();
  EXPECT_DOUBLE_EQ(m.gflops, std::max_element(p.arithmetic.begin(), p.arithmetic.end(), [](auto& a, auto& b) {
                               return a.value < b.value;
                             })->value);
  EXPECT_DOUBLE_EQ(m.gbs, std::max(p.bandwidth[0].value, p.bandwidth[1].value));
  EXPECT_THROW(measure_cpu_peaks(0, 0.1, 1), Error);
}

// ---- the CPU convolution's algorithms ------------------------------------------------------------------
TEST(CpuConvAlgo, SwitchesChooseTheAlgorithm) {
  namespace d = cpu::detail;
  const ConvShape wino{8, 32, 12, 12, 64, 3, 3, 0}, first{8, 1, 28, 28, 32, 5, 5, 0};
  EXPECT_EQ(d::conv_algo("conv2d_forward", wino), d::ConvAlgo::Winograd);
  EXPECT_EQ(d::conv_algo("conv2d_forward", first), d::ConvAlgo::Direct);
  EXPECT_EQ(d::conv_algo("conv2d_backward_filter", first), d::ConvAlgo::Direct);
  EXPECT_EQ(d::conv_algo("conv2d_backward_data", first), d::ConvAlgo::Im2col);  // no direct kernel
  d::set_winograd_enabled(false);
  EXPECT_EQ(d::conv_algo("conv2d_forward", wino), d::ConvAlgo::Im2col);
  d::set_winograd_enabled(true);
  d::set_direct_enabled(false);
  EXPECT_EQ(d::conv_algo("conv2d_forward", first), d::ConvAlgo::Im2col);
  d::set_direct_enabled(true);
  EXPECT_STREQ(d::to_string(d::ConvAlgo::Winograd), "winograd");
  EXPECT_THROW(d::conv_algo("relu_forward", wino), Error);
}

// ---- writers ---------------------------------------------------------------------------------------------
KernelReport sample_report() {
  KernelReport r;
  r.machine = "Test CPU";
  r.backends.push_back({"cpu", "Test CPU, 2 threads", Peaks{{{"fma avx2", 80}, {"mul+add sse", 20}}, {{"copy", 10}, {"triad", 16}}}});
  r.skipped.push_back("cuda: no CUDA device");
  r.kernels.push_back(make_kernel_row(r, {"relu_forward", "seed.relu1", "n=10", "cpu", "default", 1e-3, 1e6, 8e6, {}}));
  r.kernels.push_back(
      make_kernel_row(r, {"conv2d_forward", "best.conv3", "N=128 C=32", "cpu", "winograd", 2e-2, 1e9, 2e7, {}}));
  r.train_steps.push_back({"seed", "cpu", 128, 0.05, 2e9});
  return r;
}

TEST(KernelReportWriters, RowsTakeTheirBackendsPeaks) {
  const KernelReport r = sample_report();
  EXPECT_DOUBLE_EQ(r.peaks("cpu").peak().gflops, 80);
  EXPECT_DOUBLE_EQ(r.peaks("cpu").peak().gbs, 16);
  // relu: 1 MFLOP, 8 MB in 1 ms: 8 GB/s of 16, memory-bound
  EXPECT_EQ(r.kernels[0].point.bound, Bound::Memory);
  EXPECT_NEAR(r.kernels[0].point.pct_of_peak, 50.0, 1e-9);
  // conv: 1 GFLOP in 20 ms = 50 GFLOP/s of 80, intensity 50 > ridge 5
  EXPECT_EQ(r.kernels[1].point.bound, Bound::Compute);
  EXPECT_NEAR(r.kernels[1].point.pct_of_peak, 62.5, 1e-9);
  KernelReport other = r;
  EXPECT_THROW(make_kernel_row(other, {"relu_forward", "x", "n=1", "cuda", "default", 1, 1, 1, {}}), Error);
}

TEST(KernelReportWriters, JsonHoldsPeaksRowsAndSteps) {
  const nlohmann::json j = to_json(sample_report());
  EXPECT_EQ(j["machine"], "Test CPU");
  EXPECT_DOUBLE_EQ(j["peaks"]["cpu"]["peak_gflops"].get<double>(), 80);
  EXPECT_DOUBLE_EQ(j["peaks"]["cpu"]["arithmetic_gflops"]["mul+add sse"].get<double>(), 20);
  EXPECT_DOUBLE_EQ(j["peaks"]["cpu"]["ridge_intensity"].get<double>(), 5);
  EXPECT_EQ(j["skipped"][0], "cuda: no CUDA device");
  ASSERT_EQ(j["kernels"].size(), 2u);
  const auto& k = j["kernels"][1];
  EXPECT_EQ(k["op"], "conv2d_forward");
  EXPECT_EQ(k["variant"], "winograd");
  EXPECT_EQ(k["bound"], "compute");
  EXPECT_NEAR(k["time_us"].get<double>(), 2e4, 1e-6);
  EXPECT_NEAR(k["gflops"].get<double>(), 50, 1e-9);
  EXPECT_NEAR(k["pct_of_peak"].get<double>(), 62.5, 1e-9);
  const auto& t = j["train_steps"][0];
  EXPECT_NEAR(t["images_per_s"].get<double>(), 2560, 1e-9);
  EXPECT_NEAR(t["gflops"].get<double>(), 40, 1e-9);
  EXPECT_NEAR(t["pct_of_peak_flops"].get<double>(), 50, 1e-9);
}

TEST(KernelReportWriters, MarkdownHasTheTables) {
  const std::string md = to_markdown(sample_report());
  EXPECT_NE(md.find("| op | layer | shape | backend/variant | time | GFLOP/s | GB/s | FLOP/byte | bound | % of peak |"),
            std::string::npos);
  EXPECT_NE(md.find("| conv2d_forward | best.conv3 | N=128 C=32 | cpu/winograd | 20.00 ms | 50.00 | 1.00 | 50.00 | "
                    "compute | 62.5 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| relu_forward | seed.relu1 | n=10 | cpu/default | 1.00 ms |"), std::string::npos);
  EXPECT_NE(md.find("| seed | cpu | 128 | 50.00 ms | 2560 | 2.000 | 40.00 | 50.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("Skipped: cuda: no CUDA device"), std::string::npos);
  EXPECT_NE(md.find("![roofline](kernels.png)"), std::string::npos);
}

// ---- chart -----------------------------------------------------------------------------------------------
size_t count_colour(const RgbImage& img, Rgb c) {
  size_t n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) n += img.at(x, y) == c;
  return n;
}

TEST(KernelReportChart, DrawsPointsRoofsAndText) {
  const KernelReport r = sample_report();
  const RgbImage img = roofline_chart(r);
  EXPECT_EQ(img.width, kChartWidth);
  EXPECT_EQ(img.height, kChartHeight);
  EXPECT_GT(count_colour(img, Rgb{31, 119, 180}), 20u);  // the first series' points and its legend swatch
  EXPECT_GT(count_colour(img, Rgb{90, 90, 90}), 300u);   // the roof and its label
  KernelReport empty;
  empty.machine = "m";
  EXPECT_EQ(count_colour(roofline_chart(empty), Rgb{31, 119, 180}), 0u);  // no points without rows
}

TEST(KernelReportChart, WriteReportMakesThreeReadableFiles) {
  TempDir dir;
  const std::string sub = dir.path() + "/report/nested";
  write_kernel_report(sub, sample_report());
  const GrayImage png = load_image(sub + "/kernels.png");
  EXPECT_EQ(png.width, kChartWidth);
  EXPECT_EQ(png.height, kChartHeight);
  std::ifstream jf(sub + "/kernels.json");
  EXPECT_EQ(nlohmann::json::parse(jf)["kernels"].size(), 2u);
  std::ifstream mf(sub + "/kernels.md");
  std::string first;
  std::getline(mf, first);
  EXPECT_EQ(first, "# Kernel report");
  EXPECT_THROW(write_kernel_report("/proc/digits_no_such_dir", sample_report()), Error);
}

TEST(Raster, TextWidthAndClipping) {
  EXPECT_EQ(text_width("ab", 2), (2 * kGlyphAdvance - (kGlyphAdvance - kGlyphW)) * 2);
  RgbImage img(40, 40, Rgb{255, 255, 255});
  draw_text_up(img, 2, 38, "1+_", Rgb{0, 0, 0}, 1);
  const size_t ink = count_colour(img, Rgb{0, 0, 0});
  EXPECT_GT(ink, 5u);
  draw_line(img, -10, 5, 100, 5, Rgb{255, 0, 0}, 1);  // clipped, never outside
  EXPECT_EQ(count_colour(img, Rgb{255, 0, 0}), 40u);
  draw_line(img, 0, 20, 39, 20, Rgb{0, 255, 0}, 1, 5);  // dashed: half of 40 pixels
  EXPECT_EQ(count_colour(img, Rgb{0, 255, 0}), 20u);
}

// ---- the command -----------------------------------------------------------------------------------------
TEST(KernelReportCli, QuickFilteredRunWritesTheThreeFiles) {
  TempDir dir;
  const std::string out = dir.path() + "/k";
  const auto r = testing::run_digits("bench --kernels --report " + out +
                                     " --quick --filter seed.relu1 --presets seed --device cpu --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("CUDA skipped"), std::string::npos) << r.output;
  std::ifstream jf(out + "/kernels.json");
  const nlohmann::json j = nlohmann::json::parse(jf);
  ASSERT_GE(j["kernels"].size(), 2u);  // relu forward and backward at seed's first layer
  std::set<std::string> ops;
  for (const auto& k : j["kernels"]) {
    EXPECT_NE(k["label"].get<std::string>().find("seed.relu1"), std::string::npos);
    EXPECT_GT(k["time_us"].get<double>(), 0);
    EXPECT_GT(k["pct_of_peak"].get<double>(), 0);
    ops.insert(k["op"].get<std::string>());
  }
  EXPECT_EQ(ops, (std::set<std::string>{"relu_forward", "relu_backward"}));
  EXPECT_GT(j["peaks"]["cpu"]["peak_gflops"].get<double>(), 0);
  ASSERT_EQ(j["train_steps"].size(), 1u);
  EXPECT_EQ(j["train_steps"][0]["preset"], "seed");
  EXPECT_GT(j["train_steps"][0]["gflop_per_step"].get<double>(), 1);  // seed: about 1.8 GFLOP at batch 128
  EXPECT_EQ(load_image(out + "/kernels.png").width, kChartWidth);
  EXPECT_TRUE(std::filesystem::file_size(out + "/kernels.md") > 500);
}

TEST(KernelReportCli, BadUseFailsWithAReason) {
  EXPECT_NE(testing::run_digits("bench --kernels").status, 0);  // --report is required
  EXPECT_NE(testing::run_digits("bench --report /tmp/x").status, 0);
  TempDir dir;
  const auto r = testing::run_digits("bench --kernels --report " + dir.path() + " --quick --filter no_such_op --device cpu");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("matches no op"), std::string::npos) << r.output;
}

// Auto skips the CUDA half where there is none (above); --device cuda asks for it, so its absence is an error,
// said at once (before the CPU half's minutes), and nothing is written.
TEST(KernelReportCli, DeviceCudaWithoutCudaFails) {
  std::string why;
  if (cuda_tools(why) != nullptr) GTEST_SKIP() << "a CUDA device is usable here: the CUDA half runs";
  TempDir dir;
  const auto r = testing::run_digits("bench --kernels --report " + dir.path() + "/k --quick --filter seed.relu1 --device cuda");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("CUDA half cannot run"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(why.substr(0, 20)), std::string::npos) << r.output;  // the reason, as the probe gives it
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/k/kernels.json"));
}

}  // namespace
}  // namespace digits
