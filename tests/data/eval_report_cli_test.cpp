// `digits eval --report / --confusion / --misread` with the bundled model on the real MNIST test set (label
// `data`): the files exist, the confusion matrix adds up and agrees with the printed accuracy, and the PNG
// grid has one cell per misread digit (up to --misread-max).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval_report.h"
#include "image_io.h"
#include "testing/files.h"
#include "testing/mnist_fixture.h"
#include "testing/run_cli.h"

namespace digits {
namespace {

namespace fs = std::filesystem;

std::string bundled_model() { return std::string(DIGITS_TESTS_DIR) + "/../data/models/default.safetensors"; }

// The confusion CSV as a 10 x 10 matrix; fails the test on a malformed file.
std::vector<std::vector<long>> read_confusion_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "true\\predicted,0,1,2,3,4,5,6,7,8,9");
  std::vector<std::vector<long>> m;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string cell;
    std::getline(row, cell, ',');
    EXPECT_EQ(cell, std::to_string(m.size()));
    std::vector<long> counts;
    while (std::getline(row, cell, ',')) counts.push_back(std::stol(cell));
    EXPECT_EQ(counts.size(), 10u) << line;
    m.push_back(counts);
  }
  EXPECT_EQ(m.size(), 10u);
  return m;
}

// Grid slots whose digit area holds ink (dark pixels): the number of digits drawn.
int cells_with_ink(const GrayImage& img, const MisreadLayout& l) {
  int n = 0;
  for (int i = 0; i < l.columns * l.rows; ++i) {
    const auto [x0, y0] = l.digit_xy(i);
    bool ink = false;
    for (int y = y0; y < y0 + kGridDigit && !ink; ++y)
      for (int x = x0; x < x0 + kGridDigit && !ink; ++x) ink = img.at(x, y) < 128;
    n += ink;
  }
  return n;
}

TEST(EvalReportCli, ReportWritesConfusionCsvAndMisreadGrid) {
  DIGITS_REQUIRE_MNIST(mnist);
  testing::TempDir tmp("digits_eval_report_cli");
  const std::string dir = tmp.file("report/sub");  // created by --report
  const auto r = testing::run_digits("eval --device cpu --model " + bundled_model() + " --report " + dir);
  ASSERT_EQ(r.status, 0) << r.output;

  std::smatch acc;
  ASSERT_TRUE(std::regex_search(r.output, acc, std::regex(R"(accuracy [0-9.]+% \((\d+)/(\d+)\))"))) << r.output;
  const long correct = std::stol(acc[1]), count = std::stol(acc[2]);
  EXPECT_EQ(count, mnist->test.count);

  const auto m = read_confusion_csv(dir + "/confusion.csv");
  ASSERT_EQ(m.size(), 10u);
  long total = 0, diagonal = 0;
  std::vector<long> per_class(10, 0);
  for (size_t t = 0; t < 10; ++t)
    for (size_t p = 0; p < m[t].size(); ++p) {
      total += m[t][p];
      diagonal += t == p ? m[t][p] : 0;
      per_class[t] += m[t][p];
    }
  EXPECT_EQ(total, 10000);
  EXPECT_EQ(diagonal, correct);
  for (size_t t = 0; t < 10; ++t)
    EXPECT_EQ(per_class[t], std::count(mnist->test.labels.begin(), mnist->test.labels.end(), uint8_t(t))) << t;

  const int misread = int(count - correct);
  const int shown = std::min(misread, kGridDefaultMax);
  EXPECT_NE(r.output.find("wrote " + dir + "/confusion.csv"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("wrote " + dir + "/misread.png (" + std::to_string(shown) + " of " +
                          std::to_string(misread) + " misread digits"),
            std::string::npos)
      << r.output;

  const GrayImage png = load_image(dir + "/misread.png");
  const MisreadLayout l = misread_layout(shown, misread);
  ASSERT_EQ(png.width, l.width);
  ASSERT_EQ(png.height, l.height);
  EXPECT_EQ(cells_with_ink(png, l), shown);
}

TEST(EvalReportCli, JsonListsTheWrittenFilesAndMisreadMaxCutsTheGrid) {
  DIGITS_REQUIRE_MNIST(mnist);
  testing::TempDir tmp("digits_eval_report_cli");
  const std::string conf = tmp.file("c.json"), grid = tmp.file("top.png");
  const auto r = testing::run_digits("eval --device cpu --json --model " + bundled_model() + " --confusion " + conf +
                                     " --misread " + grid + " --misread-max 10");
  ASSERT_EQ(r.status, 0) << r.output;
  // stderr (merged here) holds the log lines; the JSON document is the line that starts with '{'.
  nlohmann::json j;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') j = nlohmann::json::parse(line);
  ASSERT_TRUE(j.is_object()) << r.output;
  const int misread = j.at("count").get<int>() - j.at("correct").get<int>();
  EXPECT_EQ(j.at("misread"), misread);
  ASSERT_EQ(j.at("written").size(), 2u) << j.dump();
  EXPECT_EQ(j["written"][0].at("kind"), "confusion");
  EXPECT_EQ(j["written"][0].at("path"), conf);
  EXPECT_EQ(j["written"][1].at("kind"), "misread");
  EXPECT_EQ(j["written"][1].at("path"), grid);
  ASSERT_GE(misread, 10) << "the bundled model misreads fewer than 10 test digits";
  EXPECT_EQ(j["written"][1].at("shown"), 10);
  EXPECT_EQ(j["written"][1].at("misread"), misread);

  std::ifstream in(conf);
  const nlohmann::json c = nlohmann::json::parse(in);
  EXPECT_EQ(c.at("rows"), "true");
  EXPECT_EQ(c.at("columns"), "predicted");
  EXPECT_EQ(c.at("matrix"), j.at("confusion"));

  const GrayImage png = load_image(grid);
  const MisreadLayout l = misread_layout(10, misread);
  ASSERT_EQ(png.width, l.width);
  ASSERT_EQ(png.height, l.height);
  EXPECT_EQ(cells_with_ink(png, l), 10);
}

}  // namespace
}  // namespace digits

namespace digits {
namespace {

TEST(EvalReportCli, ProbabilitiesHoldEveryTestImageAndAgreeWithTheAccuracy) {
  DIGITS_REQUIRE_MNIST(mnist);
  testing::TempDir tmp("digits_eval_report_cli");
  const std::string csv = tmp.file("p.csv");
  const auto r = testing::run_digits("eval --device cpu --json --model " + bundled_model() + " --probabilities " + csv);
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j;
  std::istringstream out(r.output);
  for (std::string line; std::getline(out, line);)
    if (!line.empty() && line[0] == '{') j = nlohmann::json::parse(line);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["written"][0].at("kind"), "probabilities");

  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "index,label,predicted,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9");
  int rows = 0, correct = 0;
  for (; std::getline(in, line); ++rows) {
    std::istringstream row(line);
    std::string cell;
    std::vector<double> v;
    while (std::getline(row, cell, ',')) v.push_back(std::stod(cell));
    ASSERT_EQ(v.size(), 13u) << line;
    ASSERT_EQ(v[0], rows);
    ASSERT_EQ(v[1], mnist->test.labels[size_t(rows)]) << line;
    const auto best = std::max_element(v.begin() + 3, v.end()) - (v.begin() + 3);
    ASSERT_EQ(v[2], double(best)) << line;
    double sum = 0;
    for (size_t k = 3; k < 13; ++k) sum += v[k];
    ASSERT_NEAR(sum, 1.0, 1e-5) << line;
    correct += v[1] == v[2];
  }
  EXPECT_EQ(rows, mnist->test.count);
  EXPECT_EQ(correct, j.at("correct").get<int>());
}

}  // namespace
}  // namespace digits
