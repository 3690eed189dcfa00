// BackendOptions: settings reach the backend as values; the environment only gives defaults at the edge.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "backend.h"
#include "error.h"
#include "testing/env.h"

namespace digits {
namespace {

using ScopedEnv = testing::EnvGuard;

TEST(BackendOptions, DefaultsAreOff) {
  const BackendOptions o;
  EXPECT_EQ(o.device, DevicePref::Auto);
  EXPECT_EQ(o.threads, 0);
  EXPECT_FALSE(o.deterministic);
  EXPECT_FALSE(o.tf32);
  EXPECT_FALSE(o.cudnn_heuristic);
}

TEST(BackendOptions, EnvironmentGivesDefaults) {
  ScopedEnv device("DIGITS_DEVICE", "cpu"), tf32("DIGITS_TF32", "1"), algo("DIGITS_CUDNN_ALGO", "heuristic");
  const BackendOptions o = BackendOptions::from_env();
  EXPECT_EQ(o.device, DevicePref::Cpu);
  EXPECT_TRUE(o.tf32);
  EXPECT_TRUE(o.cudnn_heuristic);
  EXPECT_FALSE(o.deterministic);  // only ever a flag of `digits train`
}

TEST(BackendOptions, EnvironmentZeroOrUnsetMeansOff) {
  ScopedEnv device("DIGITS_DEVICE", nullptr), tf32("DIGITS_TF32", "0"), algo("DIGITS_CUDNN_ALGO", "find");
  const BackendOptions o = BackendOptions::from_env();
  EXPECT_EQ(o.device, DevicePref::Auto);
  EXPECT_FALSE(o.tf32);
  EXPECT_FALSE(o.cudnn_heuristic);
}

TEST(BackendOptions, BadDeviceInTheEnvironmentIsRefused) {
  ScopedEnv device("DIGITS_DEVICE", "tpu");
  EXPECT_THROW(BackendOptions::from_env(), Error);
}

TEST(BackendOptions, CpuThreadsReachTheBackend) {
  BackendOptions o;
  o.device = DevicePref::Cpu;
  o.threads = 1;
  const BackendChoice c = select_backend(o);
  EXPECT_NE(c.backend->name().find("1 thread)"), std::string::npos) << c.backend->name();
}

}  // namespace
}  // namespace digits
