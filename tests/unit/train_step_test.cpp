// TrainStep against the sequence of backend calls written out by hand: the same weights bit for bit (so
// moving the step into one object changed no run), with and without augmentation.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "backend.h"
#include "error.h"
#include "model.h"
#include "optimizer.h"
#include "testing/synthetic.h"
#include "train_step.h"

namespace digits {
namespace {

constexpr const char* kSpec = "conv(4,3) batchnorm relu maxpool(2) flatten dense(16) relu dropout(0.25) dense(10)";

TrainConfig step_config(bool augment) {
  TrainConfig c;
  c.batch = 24;
  c.seed = 77;
  c.optimizer = OptimizerKind::Adam;
  c.lr = 3e-3f;
  c.augment = augment;
  return c;
}

// The step written out call by call, as the trainer did before TrainStep existed.
void hand_step(Backend& be, Model& m, Optimizer& opt, const TrainConfig& cfg, const ResidentData& d, const int32_t* index,
               int n, int64_t step, float lr, Buffer<float>& x, Buffer<int32_t>& y, Buffer<double>& stats) {
  Buffer<float> probs(be, size_t(n) * 10), loss(be, size_t(n)), dlogits(be, size_t(n) * 10);
  const uint64_t step_seed = mix64(cfg.seed, uint64_t(step));
  if (cfg.augment)
    be.augment_batch(n, 28, 28, d.images.data(), d.labels.data(), index, cfg.augment_params,
                     mix64(step_seed, 0x6175676d656e74ull), 1.0f / 255.0f, 0.f, x.data(), y.data());
  else
    be.gather_batch(n, 784, d.images.data(), d.labels.data(), index, 1.0f / 255.0f, 0.f, x.data(), y.data());
  const float* logits = m.forward(x.data(), n, true, step_seed);
  be.softmax_xent(n, 10, logits, y.data(), probs.data(), loss.data(), dlogits.data(), 1.0f / float(n));
  be.accumulate_stats(n, 10, probs.data(), y.data(), loss.data(), stats.data());
  m.backward(dlogits.data(), n, step_seed);
  opt.step(m.params(), m.grads(), lr);
}

void expect_same_as_hand_written(bool augment) {
  auto be = make_cpu_backend(0);
  const TrainConfig cfg = step_config(augment);
  const ResidentData data(*be, testing::synthetic_split(96, 5));
  std::vector<int32_t> order(96);
  std::iota(order.rbegin(), order.rend(), 0);  // any order but the identity
  Buffer<int32_t> index(*be, order.size());
  index.upload(order);

  Model a(*be, NetSpec::parse(kSpec), cfg.batch), b(*be, NetSpec::parse(kSpec), cfg.batch);
  a.init(cfg.seed), b.init(cfg.seed);
  TrainStep step(*be, a, cfg, cfg.batch);
  Optimizer opt(*be, cfg, b.param_count());
  Buffer<float> x(*be, size_t(cfg.batch) * 784);
  Buffer<int32_t> y(*be, size_t(cfg.batch));
  Buffer<double> stats(*be, 2);
  const double zero[2] = {0, 0};
  be->upload(stats.data(), zero, sizeof zero);

  const int sizes[3] = {24, 24, 17};  // the last batch of an epoch is short
  for (int s = 0; s < 3; ++s) {
    const float lr = 3e-3f * float(s + 1);
    step.run(data, index.data() + s * 24, sizes[s], 10 + s, lr);
    hand_step(*be, b, opt, cfg, data, index.data() + s * 24, sizes[s], 10 + s, lr, x, y, stats);
  }
  const auto pa = a.export_params(), pb = b.export_params();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_EQ(pa[i].data, pb[i].data) << pa[i].name;
  const auto sa = step.optimizer().export_state(), sb = opt.export_state();
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_EQ(sa[i].data, sb[i].data) << sa[i].name;
  double h[2];
  be->download(h, stats.data(), sizeof h);
  const StepStats st = step.read_stats();
  EXPECT_EQ(st.loss_sum, h[0]);
  EXPECT_EQ(st.correct, h[1]);
  EXPECT_GT(st.loss_sum, 0.0);
  step.reset_stats();
  EXPECT_EQ(step.read_stats().loss_sum, 0.0);
}

TEST(TrainStep, MatchesTheHandWrittenSequenceBitForBit) { expect_same_as_hand_written(false); }
TEST(TrainStep, MatchesTheHandWrittenSequenceBitForBitWithAugmentation) { expect_same_as_hand_written(true); }

TEST(TrainStep, GatherGivesScaledCleanImages) {
  auto be = make_cpu_backend(0);
  const Dataset d = testing::synthetic_split(8, 3);
  const ResidentData data(*be, d);
  Model m(*be, NetSpec::parse(kSpec), 8);
  TrainConfig cfg = step_config(true);
  cfg.batch = 8;
  TrainStep step(*be, m, cfg, 8);
  Buffer<int32_t> index(*be, 1);
  index.upload(std::vector<int32_t>{5});
  std::vector<float> x(784);
  be->download(x.data(), step.gather(data, index.data(), 1), x.size() * sizeof(float));
  for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], float(d.images[5 * 784 + i]) * m.input_scale()) << i;
}

TEST(TrainStep, RefusesBatchesLargerThanItsBuffers) {
  auto be = make_cpu_backend(0);
  const ResidentData data(*be, random_dataset(16, 1));
  Model m(*be, NetSpec::parse(kSpec), 8);
  EXPECT_THROW(TrainStep(*be, m, step_config(false), 9), Error);
  TrainStep step(*be, m, step_config(false), 8);
  Buffer<int32_t> index(*be, 16);
  EXPECT_THROW(step.gather(data, index.data(), 9), Error);
}

}  // namespace
}  // namespace digits
