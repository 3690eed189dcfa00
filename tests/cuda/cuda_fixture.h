// CudaTest: the fixture of every test that needs a GPU. Without one it skips with the reason
// ("no CUDA device (cudaGetDeviceCount: cudaErrorInsufficientDriver: ...)"), so CPU-only CI stays green.
// With one it shares a single CudaBackend on device 0, switches TF32 off (exact float32 math, the
// tolerances of testing/compare.h) and offers upload/download helpers.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "backend.h"
#include "cuda_backend.h"
#include "cuda_ops.h"
#include "device_info.h"
#include "testing/compare.h"

namespace digits::testing {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount: " << cuda_probe_status() << ")";
    cuda::set_tf32(false);
  }
  void TearDown() override {
    if (cuda_device_count() > 0) cuda::set_tf32(false);
  }

  // One backend for the whole binary (creating one starts cuDNN: ~0.1-1 s).
  static Backend& be() {
    static std::unique_ptr<Backend> backend = make_cuda_backend(0);
    return *backend;
  }

  // A device copy of a host vector.
  template <class T>
  static Buffer<T> dev(const std::vector<T>& h) {
    Buffer<T> b(be(), h.size());
    b.upload(h);
    return b;
  }
  // A device float buffer poisoned with NaN, so that any element an op does not write fails the comparison.
  static Buffer<float> dev_poisoned(size_t n) { return dev(poisoned(n)); }
  // An int32 device buffer filled with a value no op writes (argmax poisoning).
  static Buffer<int32_t> dev_ints(size_t n, int32_t value = -12345) { return dev(std::vector<int32_t>(n, value)); }
};

// The same fixture for parameterised tests (TEST_P over a shape table).
template <class Param>
class CudaTestWithParam : public CudaTest, public ::testing::WithParamInterface<Param> {};

}  // namespace digits::testing
