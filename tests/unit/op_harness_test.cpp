// The op harness's table (tests/harness/op_cases.cpp) run on the host backends: every case on the CPU
// backend against the reference backend (outputs poisoned with NaN first), the finite-difference gradient
// checks in double of the tiny cases, and every op's precondition refused through every backend.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "backend.h"
#include "error.h"
#include "harness/op_harness.h"
#include "host_backend.h"
#include "testing/compare.h"
#include "testing/op_params.h"

namespace digits {
namespace {

using harness::test_cases;

Backend& reference_backend() {
  static const std::unique_ptr<Backend> be = make_reference_backend();
  return *be;
}
Backend& cpu_backend() {
  static const std::unique_ptr<Backend> be = make_cpu_backend(0);
  return *be;
}

class OpCpu : public ::testing::TestWithParam<size_t> {};

TEST_P(OpCpu, MatchesReference) {
  const harness::OpCase& c = test_cases()[GetParam()];
  const auto in = harness::make_tensors(c);
  const auto want = harness::run_case(reference_backend(), c, in);
  const auto got = harness::run_case(cpu_backend(), c, in);
  const std::string mismatch = harness::compare_outputs(c, got, want);
  EXPECT_TRUE(mismatch.empty()) << mismatch;
}

INSTANTIATE_TEST_SUITE_P(Table, OpCpu, ::testing::ValuesIn(testing::case_indices()), testing::case_name);

class OpGrad : public ::testing::TestWithParam<size_t> {};

TEST_P(OpGrad, MatchesCentralDifferences) {
  const harness::OpCase& c = test_cases()[GetParam()];
  for (const harness::GradPair& g : c.gradcheck())
    EXPECT_CLOSE(g.analytic, g.numeric, testing::kGradCheck) << c.op << " " << c.label << " (" << c.shape << "): " << g.name;
}

INSTANTIATE_TEST_SUITE_P(Table, OpGrad,
                         ::testing::ValuesIn(testing::case_indices([](const harness::OpCase& c) { return bool(c.gradcheck); })),
                         testing::case_name);

// Every op's bad shapes are refused with digits::Error by Backend's checked dispatch, whichever backend:
// the reference, the CPU and (where a device exists) the CUDA one.
TEST(OpPreconditions, RefusedByEveryBackend) {
  std::vector<Backend*> backends{&reference_backend(), &cpu_backend()};
  std::unique_ptr<Backend> cuda;
  if (cuda_compiled()) {
    try {
      BackendOptions o;
      o.device = DevicePref::Cuda;
      cuda = select_backend(o).backend;
      backends.push_back(cuda.get());
    } catch (const Error&) {
      // no CUDA device: the host backends only
    }
  }
  const auto calls = harness::bad_calls();
  ASSERT_GE(calls.size(), 20u);
  for (Backend* be : backends)
    for (const harness::BadCall& b : calls) EXPECT_THROW(b.call(*be), Error) << be->name() << ": " << b.op << " " << b.what;
}

// Every op of host/ops.h has cases, at least one of them from a preset's network, and the gradient-checked
// ops have a gradient check.
TEST(OpHarness, EveryOpHasNetworkAndAwkwardCases) {
  std::vector<std::string> ops;
#define DIGITS_OP(name, params, args, check) ops.push_back(#name);
#include "ops.h"
#undef DIGITS_OP
  for (const std::string& op : ops) {
    int network = 0, awkward = 0;
    for (const auto& c : test_cases())
      if (c.op == op) ++(c.network ? network : awkward);
    EXPECT_GT(network, 0) << op;
    EXPECT_GT(awkward, 0) << op;
  }
  for (const char* op : {"conv2d_forward", "bias_forward", "maxpool_forward", "dense_forward", "relu_forward",
                         "dropout_forward", "softmax_xent", "batchnorm_forward_train"}) {
    int grads = 0;
    for (const auto& c : test_cases()) grads += c.op == op && c.gradcheck;
    EXPECT_GT(grads, 0) << op;
  }
  for (const char* label : {"seed.conv1", "keras.conv2", "best.conv3", "best.bn5", "best.params"}) {
    int found = 0;
    for (const auto& c : test_cases()) found += c.network && c.label.find(label) != std::string::npos;
    EXPECT_GT(found, 0) << label;
  }
}

}  // namespace
}  // namespace digits
