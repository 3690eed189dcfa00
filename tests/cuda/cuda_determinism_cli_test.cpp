// `digits train --device cuda --deterministic` gives the same bits run to run and across --resume on one
// GPU: two fresh runs, and a run stopped after epoch 1 then resumed, write byte-identical model files.
// Through the real command line on a synthetic data set (no MNIST needed); skips without a device.
#include <gtest/gtest.h>

#include <string>

#include "cuda_fixture.h"
#include "testing/files.h"
#include "testing/run_cli.h"
#include "testing/synthetic.h"

namespace digits {
namespace {

using CudaDeterminismCli = testing::CudaTest;

// 1600 images at batch 32: each epoch runs its full 50 steps (--max-steps 50 only caps it). The keras
// preset has two convolutions (cuDNN forward and both backward directions), dense layers (cuBLAS) and
// dropout (counter-based RNG): every part a deterministic run must pin down.
std::string train_args(const std::string& data, const std::string& out, int epochs) {
  return "train --device cuda --deterministic --data '" + data + "' --preset keras --batch 32 --max-steps 50 --seed 3"
         " --progress plain --epochs " + std::to_string(epochs) + " --out '" + out + "'";
}

TEST_F(CudaDeterminismCli, TwoRunsAndAResumedRunWriteTheSameBytes) {
  testing::TempDir tmp("digits_det");
  const std::string data = tmp.file("data");
  testing::write_synthetic_mnist(data, 1600, 200);

  const auto a = testing::run_digits(train_args(data, tmp.file("a.safetensors"), 2));
  ASSERT_EQ(a.status, 0) << a.output;
  ASSERT_NE(a.output.find("CUDA"), std::string::npos) << "did not train on CUDA:\n" << a.output;
  const auto b = testing::run_digits(train_args(data, tmp.file("b.safetensors"), 2));
  ASSERT_EQ(b.status, 0) << b.output;
  const testing::Bytes ref = testing::read_bytes(tmp.file("a.safetensors"));
  EXPECT_TRUE(ref == testing::read_bytes(tmp.file("b.safetensors"))) << "two deterministic runs differ";

  // Stopped after epoch 1, then resumed from its checkpoint to epoch 2 (max-steps is not in a checkpoint).
  const auto c1 = testing::run_digits(train_args(data, tmp.file("c.safetensors"), 1));
  ASSERT_EQ(c1.status, 0) << c1.output;
  const auto c2 = testing::run_digits("train --device cuda --deterministic --data '" + data +
                                      "' --max-steps 50 --progress plain --epochs 2 --resume '" +
                                      tmp.file("c.ckpt.safetensors") + "' --out '" + tmp.file("c2.safetensors") + "'");
  ASSERT_EQ(c2.status, 0) << c2.output;
  EXPECT_TRUE(ref == testing::read_bytes(tmp.file("c2.safetensors"))) << "the resumed run differs from the uninterrupted one";
}

}  // namespace
}  // namespace digits
