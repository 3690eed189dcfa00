// The CPU path is deterministic: the same seed gives bit-identical weights, optimizer state, losses and
// test results whatever the thread count (1, 2 or 3 threads, the last more than this machine may have),
// and run after run. Training on the synthetic set; networks large enough that every op takes its
// multi-threaded path (the ops go parallel only above a size threshold).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "backend.h"
#include "cpu/cpu_ops.h"
#include "model_file.h"
#include "testing/synthetic.h"
#include "trainer.h"

namespace digits {
namespace {

struct Outcome {
  std::vector<NamedTensor> params;  // weights + optimizer state
  std::vector<double> losses;       // per epoch: train loss, train accuracy, test loss, test accuracy
};

Outcome train_with_threads(int threads, const std::string& spec, const std::string& optimizer) {
  auto be = make_cpu_backend(threads);
  EXPECT_EQ(cpu::num_threads(), threads) << be->name();
  const Mnist data = testing::synthetic_mnist(384, 96);
  TrainOptions o;
  o.preset = "custom";
  o.spec = NetSpec::parse(spec);
  o.cfg.epochs = 2;
  o.cfg.batch = 48;
  o.cfg.max_steps_per_epoch = 4;  // a few steps show any difference: it only grows from there
  o.cfg.seed = 21;
  o.cfg.optimizer = parse_optimizer(optimizer);
  o.cfg.lr = o.cfg.optimizer == OptimizerKind::Sgd ? 0.05f : default_lr(o.cfg.optimizer);
  // ctest runs each test in its own process, several at once: one file name per process.
  o.checkpoint = ::testing::TempDir() + "digits_determinism_" + std::to_string(::getpid()) + ".ckpt.safetensors";
  std::ostringstream log;
  o.log = &log;
  const TrainResult r = train(*be, data, o);
  Outcome out;
  for (const auto& e : r.epochs)
    out.losses.insert(out.losses.end(), {e.train_loss, e.train_accuracy, e.test_loss, e.test_accuracy});
  out.params = load_model_file(o.checkpoint).tensors;  // the checkpoint: weights and optimizer state
  std::remove(o.checkpoint.c_str());
  return out;
}

// Bit-for-bit equality (memcmp, so -0 vs +0 and NaN payloads count too), naming the first difference.
void expect_identical(const Outcome& a, const Outcome& b, const std::string& what) {
  ASSERT_EQ(a.losses.size(), b.losses.size()) << what;
  for (size_t i = 0; i < a.losses.size(); ++i)
    EXPECT_EQ(std::memcmp(&a.losses[i], &b.losses[i], sizeof(double)), 0)
        << what << ": epoch statistic " << i << ": " << a.losses[i] << " vs " << b.losses[i];
  ASSERT_EQ(a.params.size(), b.params.size()) << what;
  for (size_t t = 0; t < a.params.size(); ++t) {
    const auto& x = a.params[t].data;
    const auto& y = b.params[t].data;
    ASSERT_EQ(x.size(), y.size()) << what << ": " << a.params[t].name;
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::memcmp(&x[i], &y[i], sizeof(float)) != 0) {
        ADD_FAILURE() << what << ": tensor '" << a.params[t].name << "' differs first at [" << i << "]: " << x[i]
                      << " vs " << y[i];
        break;
      }
    }
  }
}

void check_thread_counts(const std::string& spec, const std::string& optimizer) {
  const Outcome one = train_with_threads(1, spec, optimizer);
  ASSERT_FALSE(one.params.empty());
  for (int threads : {2, 3}) expect_identical(one, train_with_threads(threads, spec, optimizer),
                                              "1 vs " + std::to_string(threads) + " threads");
  // Run to run with the same count: dynamic scheduling must not leak into the result either.
  expect_identical(one, train_with_threads(1, spec, optimizer), "1 thread, second run");
}

TEST(Determinism, CpuTrainingIsBitIdenticalForAnyThreadCount) {
  // Convolutions (im2col/GEMM and small kernels), pooling, dropout, dense, Adadelta.
  check_thread_counts("conv(16,5) relu maxpool(2) conv(32,3) relu maxpool(2) flatten dense(64) relu dropout(0.3) dense(10)",
                      "adadelta");
}

TEST(Determinism, KerasShapesWithAdamAreBitIdenticalForAnyThreadCount) {
  // The keras preset's layer shapes (3x3 convolutions, where Winograd may be chosen), with Adam.
  check_thread_counts("conv(32,3) relu conv(64,3) relu maxpool(2) dropout(0.25) flatten dense(128) relu dropout(0.5) dense(10)",
                      "adam");
}

}  // namespace
}  // namespace digits
