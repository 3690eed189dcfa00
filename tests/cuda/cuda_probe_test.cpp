// The CUDA backend's behaviour on every machine, GPU or not (never skipped): probing never throws,
// asking for a missing device throws a digits::Error that says what is wrong, and `digits info`'s CUDA
// lines are there. On a machine without a driver this is what users meet first.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "backend.h"
#include "cuda_backend.h"
#include "cuda_ops.h"
#include "device_info.h"
#include "error.h"

namespace digits {
namespace {

std::string value_of(const std::vector<std::pair<std::string, std::string>>& info, const std::string& key) {
  for (const auto& [k, v] : info)
    if (k == key) return v;
  return "<missing>";
}

TEST(CudaProbe, DeviceCountNeverThrowsAndIsStable) {
  int n = -1;
  EXPECT_NO_THROW(n = cuda_device_count());
  EXPECT_GE(n, 0);
  EXPECT_EQ(cuda_device_count(), n);  // a failed probe leaves no sticky error behind
  EXPECT_FALSE(cuda_probe_status().empty());
}

TEST(CudaProbe, MissingDeviceThrowsClearError) {
  const int n = cuda_device_count();
  const int missing = n == 0 ? 0 : n;  // no GPU: device 0; with GPUs: one past the last
  try {
    (void)make_cuda_backend(missing);
    FAIL() << "make_cuda_backend(" << missing << ") should throw with " << n << " devices";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(n == 0 ? "no CUDA device" : "does not exist"), std::string::npos) << msg;
  }
  EXPECT_THROW((void)make_cuda_backend(-1), Error);
  EXPECT_EQ(cuda_device_count(), n);
}

TEST(CudaProbe, InfoListsRuntimeDriverDevicesAndLibraries) {
  std::vector<std::pair<std::string, std::string>> info;
  ASSERT_NO_THROW(info = cuda_info());
  EXPECT_NE(value_of(info, "CUDA runtime"), "<missing>");
  EXPECT_NE(value_of(info, "CUDA driver"), "<missing>");
  EXPECT_EQ(value_of(info, "cuDNN").substr(0, 2), "9.");
  EXPECT_NE(value_of(info, "cuBLAS"), "<missing>");
  EXPECT_NE(value_of(info, "cuBLAS"), "unknown");
  EXPECT_NE(value_of(info, "CUDA architectures built").find("sm_"), std::string::npos)
      << value_of(info, "CUDA architectures built");
  const int n = cuda_device_count();
  EXPECT_EQ(value_of(info, "CUDA devices").substr(0, std::to_string(n).size()), std::to_string(n));
  for (int d = 0; d < n; ++d) EXPECT_NE(value_of(info, "GPU " + std::to_string(d)), "<missing>");
}

// Settings are values: the environment (DIGITS_TF32) reaches a backend only through BackendOptions::from_env
// at the program's edge, never the cuda:: functions' defaults.
TEST(CudaProbe, Tf32IsOffUnlessAskedFor) {
  EXPECT_FALSE(cuda::Settings{}.tf32);
  EXPECT_FALSE(cuda::Settings{}.deterministic);
  const bool before = cuda::tf32();
  cuda::set_tf32(true);
  EXPECT_TRUE(cuda::tf32());
  cuda::set_tf32(false);
  EXPECT_FALSE(cuda::tf32());
  cuda::set_tf32(before);
}

}  // namespace
}  // namespace digits
