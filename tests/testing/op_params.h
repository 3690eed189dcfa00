// Value-parameterised GoogleTest suites over the op harness's case table (tests/harness/op_harness.h):
// the parameter is an index into harness::test_cases(), the test name is the case's (op_label).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "harness/op_harness.h"

namespace digits::testing {

// Indices of the test cases that `keep` accepts (all of them by default).
inline std::vector<size_t> case_indices(const std::function<bool(const harness::OpCase&)>& keep = nullptr) {
  std::vector<size_t> r;
  const auto& cases = harness::test_cases();
  for (size_t i = 0; i < cases.size(); ++i)
    if (!keep || keep(cases[i])) r.push_back(i);
  return r;
}

inline std::string case_name(const ::testing::TestParamInfo<size_t>& info) { return harness::test_cases()[info.param].name(); }

}  // namespace digits::testing
