// `digits finetune` on a generated personal style (scripts/personal_styles.py: digits tilted 30-40
// degrees, 10 samples a digit) with MNIST replay (label `data`): the style's other samples, never trained on,
// are read far better after, and MNIST test accuracy holds; the personal model then reads them in `predict`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "testing/files.h"
#include "testing/mnist_fixture.h"
#include "testing/run_cli.h"

namespace digits {
namespace {

// The last line of the output that is a JSON object (stderr's log lines come before it).
nlohmann::json last_json(const std::string& output) {
  std::istringstream in(output);
  std::string line, found;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') found = line;
  return nlohmann::json::parse(found.empty() ? "null" : found);
}

TEST(FinetuneCli, LearnsATiltedStyleAndKeepsMnist) {
  DIGITS_REQUIRE_MNIST(mnist);
  testing::TempDir tmp("finetune");
  const std::string gen = "python3 " + std::string(DIGITS_TESTS_DIR) +
                          "/../scripts/personal_styles.py --style tilted --train 10 --check 10 --canvas 160x160"
                          " --out " + tmp.path();
  ASSERT_EQ(std::system(gen.c_str()), 0) << gen << " failed (python3 is installed by scripts/setup.sh)";
  const std::string style = tmp.path() + "/tilted", out = tmp.file("personal.safetensors");
  const testing::CliResult r =
      testing::run_digits("finetune --device cpu --json --data " + mnist->dir + " --samples " + style + "/train --check " +
                          style + "/check --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = last_json(r.output);
  ASSERT_TRUE(j.is_object()) << r.output;
  EXPECT_EQ(j["trained_on"].get<int>() + j["held_back"]["count"].get<int>(), 100);
  const auto& check = j["check"];
  EXPECT_EQ(check["count"].get<int>(), 100);
  EXPECT_LE(check["before"].get<double>(), 0.9) << "the bundled model must not read this style already";
  EXPECT_GE(check["after"].get<double>(), 0.97) << r.output;
  EXPECT_GE(j["mnist_test"]["after"].get<double>(), j["mnist_test"]["before"].get<double>() - 0.0015) << r.output;

  const testing::CliResult p = testing::run_digits("predict --device cpu --single --model " + out + " " + style +
                                                   "/check/4/000.png " + style + "/check/7/000.png");
  ASSERT_EQ(p.status, 0) << p.output;
  EXPECT_NE(p.output.find("4/000.png: 4 "), std::string::npos) << p.output;
  EXPECT_NE(p.output.find("7/000.png: 7 "), std::string::npos) << p.output;
}

}  // namespace
}  // namespace digits
