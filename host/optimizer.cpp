// Optimizer: one fused update call per step over all parameters.
#include "optimizer.h"

#include <algorithm>
#include <cmath>

#include "error.h"

namespace digits {

Optimizer::Optimizer(Backend& be, const TrainConfig& cfg, size_t n) : be_(be), cfg_(cfg), n_(n) {
  switch (cfg.optimizer) {
    case OptimizerKind::Adadelta: slot_names_ = {"accum_grad", "accum_delta"}; break;
    case OptimizerKind::Sgd: slot_names_ = {"velocity"}; break;
    case OptimizerKind::Adam: slot_names_ = {"m", "v"}; break;
  }
  for (size_t i = 0; i < slot_names_.size(); ++i) {
    slots_.emplace_back(be, n);
    be.fill(slots_.back().data(), n, 0.f);
  }
}

float scheduled_lr(const TrainConfig& cfg, int64_t step, int64_t steps_per_epoch) {
  if (cfg.schedule == Schedule::Constant) return cfg.lr;
  const double total = double(std::max<int64_t>(1, int64_t(cfg.epochs) * steps_per_epoch));
  const double warm = std::min(total, double(cfg.warmup) * double(steps_per_epoch));
  const double t = double(step);
  if (t < warm) return float(cfg.lr * (0.1 + 0.9 * t / warm));
  const double progress = std::min(1.0, (t - warm) / std::max(1.0, total - warm));
  return float(cfg.lr * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

void Optimizer::step(float* w, const float* g, float lr) {
  ++steps_;
  switch (cfg_.optimizer) {
    case OptimizerKind::Adadelta: {
      AdadeltaParams p;
      p.lr = lr;
      be_.adadelta_update(n_, p, w, g, slots_[0].data(), slots_[1].data());
      break;
    }
    case OptimizerKind::Sgd: be_.sgd_update(n_, {lr, cfg_.momentum}, w, g, slots_[0].data()); break;
    case OptimizerKind::Adam: {
      AdamParams p;
      p.lr = lr;
      p.t = steps_;
      be_.adam_update(n_, p, w, g, slots_[0].data(), slots_[1].data());
      break;
    }
  }
}

std::vector<NamedTensor> Optimizer::export_state() const {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < slots_.size(); ++i)
    out.push_back({"optim." + slot_names_[i], {int64_t(n_)}, slots_[i].download()});
  // The step count as two exact float halves (a float holds integers up to 2^24 exactly).
  out.push_back({"optim.steps", {2}, {float(steps_ >> 24), float(steps_ & 0xFFFFFF)}});
  return out;
}

void Optimizer::import_state(const ModelFile& file, const std::string& path) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    const NamedTensor* t = file.find("optim." + slot_names_[i]);
    DIGITS_CHECK(t, path << ": checkpoint lacks optimizer state 'optim." << slot_names_[i] << "' for " << to_string(cfg_.optimizer)
                         << " (was it saved with another optimizer, or is it a final model without state?)");
    DIGITS_CHECK(t->data.size() == n_, path << ": optimizer state 'optim." << slot_names_[i] << "' has "
                                            << t->data.size() << " values, the model has " << n_ << " parameters");
    slots_[i].upload(t->data);
  }
  const NamedTensor* s = file.find("optim.steps");
  DIGITS_CHECK(s && s->data.size() == 2, path << ": checkpoint lacks 'optim.steps'");
  for (float v : s->data)  // whole numbers in [0, 2^24), as written; anything else (NaN, 1e30) is corrupt
    DIGITS_CHECK(v >= 0.f && v < 16777216.f && v == std::floor(v),
                 path << ": checkpoint's 'optim.steps' holds " << v << ", not part of a step count: the file is corrupt");
  steps_ = (int64_t(s->data[0]) << 24) + int64_t(s->data[1]);
}

}  // namespace digits
