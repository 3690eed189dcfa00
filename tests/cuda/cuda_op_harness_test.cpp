// The op harness's table (tests/harness/op_cases.cpp) on the CUDA backend: every case against the CPU
// backend on the same inputs, TF32 off. Skips with the fixture's reason without a device.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "cuda_fixture.h"
#include "harness/op_harness.h"
#include "testing/op_params.h"

namespace digits {
namespace {

using harness::test_cases;

class OpCuda : public testing::CudaTestWithParam<size_t> {};

TEST_P(OpCuda, MatchesCpu) {
  static const std::unique_ptr<Backend> cpu = make_cpu_backend(0);
  const harness::OpCase& c = test_cases()[GetParam()];
  const auto in = harness::make_tensors(c);
  const auto want = harness::run_case(*cpu, c, in);
  const auto got = harness::run_case(be(), c, in);
  const std::string mismatch = harness::compare_outputs(c, got, want);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
}

INSTANTIATE_TEST_SUITE_P(Table, OpCuda, ::testing::ValuesIn(testing::case_indices()), testing::case_name);

}  // namespace
}  // namespace digits
