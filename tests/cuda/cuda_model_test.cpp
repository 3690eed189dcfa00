// Whole networks on the CudaBackend against the CPU backend: the same presets, weights and batch give the
// same logits, loss and gradients, and 20 steps on a small synthetic set bring the loss down. Element-wise
// limits are loose on gradients because a ReLU input or a pooling tie within float rounding of zero may
// fall differently on the two backends; the relative L2 error and the loss stay tight. Skips without a GPU.
#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "backend.h"
#include "cuda_fixture.h"
#include "model.h"
#include "optimizer.h"
#include "testing/compare.h"
#include "testing/synthetic.h"

namespace digits {
namespace {

using testing::CudaTestWithParam;

// clang-format off
constexpr testing::Tol kLogits {1e-4, 1e-3, 1e-4};
constexpr testing::Tol kGrads  {1e-4, 1e-2, 1e-3};
// clang-format on

// A batch of the synthetic set as floats (pixel / 255) and int32 labels.
struct HostBatch {
  std::vector<float> x;
  std::vector<int32_t> labels;
};

HostBatch make_batch(int n, uint64_t seed) {
  const Dataset d = testing::synthetic_split(n, seed);
  HostBatch b;
  b.x.resize(d.images.size());
  for (size_t i = 0; i < d.images.size(); ++i) b.x[i] = float(d.images[i]) / 255.0f;
  b.labels.assign(d.labels.begin(), d.labels.end());
  return b;
}

// One network on one backend, with its loss buffers.
struct Net {
  Net(Backend& be, const std::string& preset, int batch)
      : be(be), model(be, NetSpec::parse(find_preset(preset).spec), batch), x(be, size_t(batch) * 784),
        labels(be, size_t(batch)), probs(be, size_t(batch) * 10), loss(be, size_t(batch)),
        dlogits(be, size_t(batch) * 10) {}

  // Forward (training mode: dropout on) and the loss; returns the mean loss.
  float forward(int n, uint64_t step_seed) {
    const float* logits = model.forward(x.data(), n, true, step_seed);
    last_logits = std::vector<float>(size_t(n) * 10);
    be.download(last_logits.data(), logits, last_logits.size() * sizeof(float));
    be.softmax_xent(n, 10, logits, labels.data(), probs.data(), loss.data(), dlogits.data(), 1.0f / float(n));
    const auto l = loss.download();
    return std::accumulate(l.begin(), l.begin() + n, 0.0f) / float(n);
  }
  std::vector<float> grads() {
    std::vector<float> g(model.param_count());
    be.download(g.data(), model.grads(), g.size() * sizeof(float));
    return g;
  }

  Backend& be;
  Model model;
  Buffer<float> x;
  Buffer<int32_t> labels;
  Buffer<float> probs, loss, dlogits;
  std::vector<float> last_logits;
};

using CudaModel = CudaTestWithParam<std::string>;

TEST_P(CudaModel, StepMatchesCpuThenLossFalls) {
  const std::string preset = GetParam();
  const int n = 32;
  const HostBatch batch = make_batch(n, 5);
  auto cpu_be = make_cpu_backend(0);
  Net c(*cpu_be, preset, n), g(be(), preset, n);
  for (Net* net : {&c, &g}) {
    net->model.init(7);
    net->x.upload(batch.x);
    net->labels.upload(batch.labels);
  }
  std::vector<float> pc(c.model.param_count()), pg(g.model.param_count());
  cpu_be->download(pc.data(), c.model.params(), pc.size() * sizeof(float));
  be().download(pg.data(), g.model.params(), pg.size() * sizeof(float));
  ASSERT_EQ(pc, pg) << "init(seed) must give the same weights on both backends";

  // Step 1: logits, loss and gradients agree.
  const float loss_c = c.forward(n, 100), loss_g = g.forward(n, 100);
  EXPECT_CLOSE(g.last_logits, c.last_logits, kLogits);
  EXPECT_NEAR(loss_g, loss_c, 1e-4 * std::max(1.0f, loss_c));
  c.model.backward(c.dlogits.data(), n, 100);
  g.model.backward(g.dlogits.data(), n, 100);
  EXPECT_CLOSE(g.grads(), c.grads(), kGrads);

  // One optimizer step each, then the losses still agree.
  const TrainConfig cfg = find_preset(preset).train;
  Optimizer oc(*cpu_be, cfg, c.model.param_count()), og(be(), cfg, g.model.param_count());
  oc.step(c.model.params(), c.model.grads(), cfg.lr);
  og.step(g.model.params(), g.model.grads(), cfg.lr);
  const float loss_c2 = c.forward(n, 101), loss_g2 = g.forward(n, 101);
  EXPECT_NEAR(loss_g2, loss_c2, 1e-4 * std::max(1.0f, loss_c2));

  // 20 steps on the GPU alone: the network learns the batch.
  float last = loss_g2;
  for (int step = 0; step < 20; ++step) {
    g.model.backward(g.dlogits.data(), n, 101 + uint64_t(step));
    og.step(g.model.params(), g.model.grads(), cfg.lr);
    last = g.forward(n, 102 + uint64_t(step));
  }
  EXPECT_LT(last, 0.7f * loss_g) << "loss " << loss_g << " -> " << last << " after 20 steps";
}

INSTANTIATE_TEST_SUITE_P(Cuda, CudaModel, ::testing::Values(std::string("seed"), std::string("keras"), std::string("best"), std::string("fast")));

}  // namespace
}  // namespace digits
