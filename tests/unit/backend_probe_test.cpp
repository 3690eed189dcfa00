// select_backend's CUDA start-up probe, every branch without a GPU: each step is made to fail by fault
// injection (BackendOptions::fail_probe_step; DIGITS_FAULT_INJECT on the command line), and each failure
// gives one line that auto prints before training on the CPU and that --device cuda exits 1 with.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend.h"
#include "error.h"
#include "testing/files.h"
#include "testing/run_cli.h"
#include "testing/synthetic.h"

namespace digits {
namespace {

struct FaultCase {
  std::string step;
  std::vector<std::string> says;  // what the line must contain besides the step's injection mark
};

// clang-format off
const std::vector<FaultCase> kFaults = {
  {"driver",       {"NVIDIA driver too old", "CUDA 12.4", "runtime is CUDA 13.", "R580 or newer"}},
  {"device_count", {"no CUDA device found", "cudaErrorNoDevice", "nvidia-smi"}},
  {"kernel",       {"our CUDA kernels cannot run", "cudaErrorNoKernelImageForDevice", "this build has code for"}},
  {"cudnn",        {"cuDNN cannot start", "libcudnn.so.9"}},
  {"cudnn_conv",   {"a cuDNN convolution failed", "sub-library"}},
  {"cublas",       {"cuBLAS cannot start", "libcublas.so.13"}},
  {"cublas_gemm",  {"a cuBLAS matrix product failed"}},
  {"backend",      {"the CUDA backend failed to start"}},
};
// clang-format on

BackendOptions with_fault(DevicePref device, const std::string& step) {
  BackendOptions o;
  o.device = device;
  o.threads = 1;
  o.fail_probe_step = step;
  return o;
}

void expect_says(const std::string& line, const FaultCase& c) {
  EXPECT_EQ(line.find('\n'), std::string::npos) << "not one line: " << line;
  EXPECT_NE(line.find("[fault injected: " + c.step + "]"), std::string::npos) << line;
  for (const std::string& s : c.says) EXPECT_NE(line.find(s), std::string::npos) << "'" << s << "' missing: " << line;
}

class BackendProbe : public ::testing::TestWithParam<FaultCase> {
 protected:
  void SetUp() override {
    if (!cuda_compiled()) GTEST_SKIP() << "CUDA backend not built: no probe to inject faults into";
  }
};

TEST_P(BackendProbe, AutoSaysWhyAndRunsOnTheCpu) {
  const BackendChoice c = select_backend(with_fault(DevicePref::Auto, GetParam().step));
  ASSERT_TRUE(c.backend);
  EXPECT_EQ(c.backend->kind(), DeviceKind::Cpu);
  EXPECT_EQ(c.reason.rfind("auto: ", 0), 0u) << c.reason;
  EXPECT_NE(c.reason.find("; using CPU"), std::string::npos) << c.reason;
  expect_says(c.reason, GetParam());
}

TEST_P(BackendProbe, ExplicitCudaFailsWithTheSameLine) {
  try {
    (void)select_backend(with_fault(DevicePref::Cuda, GetParam().step));
    FAIL() << "--device cuda with a failed " << GetParam().step << " step must throw";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("--device cuda: ", 0), 0u) << msg;
    EXPECT_NE(msg.find("use --device cpu or auto"), std::string::npos) << msg;
    expect_says(msg, GetParam());
  }
}

INSTANTIATE_TEST_SUITE_P(EachStep, BackendProbe, ::testing::ValuesIn(kFaults),
                         [](const auto& info) { return info.param.step; });

TEST(BackendProbeReal, UnknownFaultStepIsRefused) {
  if (!cuda_compiled()) GTEST_SKIP() << "CUDA backend not built";
  EXPECT_THROW(select_backend(with_fault(DevicePref::Auto, "kernal")), Error);
}

// Without a GPU the real probe stops at its device step (the driver step passes when there is no driver).
TEST(BackendProbeReal, WithoutADeviceAutoNamesTheReason) {
  const BackendChoice c = select_backend(with_fault(DevicePref::Auto, ""));
  if (c.backend->kind() == DeviceKind::Cuda) GTEST_SKIP() << "a usable CUDA device is present: " << c.reason;
  EXPECT_EQ(c.reason.find('\n'), std::string::npos) << c.reason;
  EXPECT_NE(c.reason.find(cuda_compiled() ? "no CUDA device found" : "CUDA backend not built"), std::string::npos)
      << c.reason;
  EXPECT_THROW(select_backend(with_fault(DevicePref::Cuda, "")), Error);
}

// The command line: auto prints the line and trains on the CPU; --device cuda exits 1 with it.
TEST(BackendProbeCli, InjectedKernelFailure) {
  if (!cuda_compiled()) GTEST_SKIP() << "CUDA backend not built";
  testing::TempDir tmp("digits_probe");
  testing::write_synthetic_mnist(tmp.file("data"));
  const std::string train = "train --data '" + tmp.file("data") + "' --spec 'flatten dense(10)' --threads 1 --batch 16"
                            " --max-steps 2 --epochs 1 --progress plain --out '" + tmp.file("m.safetensors") + "'";
  const auto a = testing::run_digits(train + " --device auto", "DIGITS_FAULT_INJECT=kernel");
  EXPECT_EQ(a.status, 0) << a.output;
  EXPECT_NE(a.output.find("auto: our CUDA kernels cannot run"), std::string::npos) << a.output;
  EXPECT_NE(a.output.find("; using CPU"), std::string::npos) << a.output;
  const auto c = testing::run_digits(train + " --device cuda", "DIGITS_FAULT_INJECT=kernel");
  EXPECT_EQ(c.status, 1) << c.output;
  EXPECT_NE(c.output.find("digits: error: --device cuda: our CUDA kernels cannot run"), std::string::npos) << c.output;
}

}  // namespace
}  // namespace digits
