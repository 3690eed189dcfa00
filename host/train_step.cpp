// TrainStep: the backend calls of one training step, in the one order every caller uses (the order and the
// seeds decide the weights bit for bit: a resumed run must match an uninterrupted one).
#include "train_step.h"

#include <random>

#include "error.h"

namespace digits {

ResidentData::ResidentData(Backend& be, const Dataset& d)
    : count(d.count), rows(d.rows), cols(d.cols), pixels(d.pixels()), images(be, d.images.size()),
      labels(be, d.labels.size()) {
  images.upload(d.images);
  labels.upload(d.labels);
}

Dataset random_dataset(int count, uint32_t seed) {
  Dataset d;
  d.count = count, d.rows = 28, d.cols = 28;
  std::mt19937 rng(seed);
  d.images.resize(size_t(count) * size_t(d.pixels()));
  d.labels.resize(size_t(count));
  for (auto& v : d.images) v = uint8_t(rng() & 255);
  for (auto& v : d.labels) v = uint8_t(rng() % kClasses);
  return d;
}

TrainStep::TrainStep(Backend& be, Model& model, const TrainConfig& cfg, int max_batch)
    : be_(be), model_(model), cfg_(cfg), max_batch_(max_batch), optimizer_(be, cfg, model.param_count()),
      y_(be, size_t(max_batch)), x_(be, size_t(max_batch) * model.spec().input.size()),
      probs_(be, size_t(max_batch) * kClasses), loss_(be, size_t(max_batch)), dlogits_(be, size_t(max_batch) * kClasses),
      stats_(be, 2) {
  DIGITS_CHECK(max_batch > 0 && max_batch <= model.max_batch(),
               "a training step of " << max_batch << " images needs a model built for as many (it has " << model.max_batch()
                                     << ")");
  DIGITS_CHECK(model.num_classes() == kClasses, "training needs a network with " << kClasses << " outputs, this one has "
                                                                                 << model.num_classes());
  reset_stats();
}

void TrainStep::check_batch(const ResidentData& data, int n) const {
  DIGITS_CHECK(n > 0 && n <= max_batch_, "a batch of " << n << " images does not fit the step's " << max_batch_);
  DIGITS_CHECK(size_t(data.pixels) == model_.spec().input.size(),
               "images of " << data.pixels << " pixels do not fit the network's input of " << model_.spec().input.size());
}

const float* TrainStep::gather(const ResidentData& data, const int32_t* index, int n) {
  check_batch(data, n);
  be_.gather_batch(n, data.pixels, data.images.data(), data.labels.data(), index, model_.input_scale(), 0.f, x_.data(),
                   y_.data());
  return x_.data();
}

void TrainStep::run(const ResidentData& data, const int32_t* index, int n, int64_t step, float lr) {
  const uint64_t step_seed = mix64(cfg_.seed, uint64_t(step));
  if (cfg_.augment) {
    check_batch(data, n);
    be_.augment_batch(n, data.rows, data.cols, data.images.data(), data.labels.data(), index, cfg_.augment_params,
                      mix64(step_seed, 0x6175676d656e74ull), model_.input_scale(), 0.f, x_.data(), y_.data());
  } else {
    gather(data, index, n);
  }
  const float* logits = model_.forward(x_.data(), n, true, step_seed);
  be_.softmax_xent(n, kClasses, logits, y_.data(), probs_.data(), loss_.data(), dlogits_.data(), 1.0f / float(n));
  be_.accumulate_stats(n, kClasses, probs_.data(), y_.data(), loss_.data(), stats_.data());
  model_.backward(dlogits_.data(), n, step_seed);
  optimizer_.step(model_.params(), model_.grads(), lr);
}

void TrainStep::reset_stats() {
  const double zero[2] = {0, 0};
  be_.upload(stats_.data(), zero, sizeof zero);
}

StepStats TrainStep::read_stats() {
  double h[2] = {0, 0};
  be_.download(h, stats_.data(), sizeof h);
  return {h[0], h[1]};
}

}  // namespace digits
