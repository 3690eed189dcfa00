// Fine-tuning on personal samples: the holdout split, the samples' stroke-width versions, the batch plan
// (personal samples and MNIST replay in every batch), the steps (TrainStep, as `digits train`), batch-norm
// recalibration, measuring before and after, and the personal model file.
#include "finetune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "checkpoint.h"
#include "error.h"
#include "model.h"
#include "optimizer.h"
#include "train_step.h"
#include "trainer.h"

namespace digits {

namespace fs = std::filesystem;

// ---- options ------------------------------------------------------------------------------------------
void FinetuneOptions::validate() const {
  DIGITS_CHECK(epochs > 0 && epochs <= 100000, "--epochs must be in 1..100000, got " << epochs);
  DIGITS_CHECK(seconds >= 0 && seconds <= 1e6, "--seconds must be 0 (no limit) or up to 1e6, got " << seconds);
  DIGITS_CHECK(holdout >= 0 && holdout < 1, "--holdout must be in [0, 1), got " << holdout);
  DIGITS_CHECK(batch >= 2 && batch <= 4096, "--batch must be in 2..4096, got " << batch);
  DIGITS_CHECK(replay >= 0 && replay <= 0.95, "--replay must be in [0, 0.95], got " << replay);
  DIGITS_CHECK(dense_lr_scale > 0 && dense_lr_scale <= 100,
               "--dense-lr-scale must be above 0 and at most 100, got " << dense_lr_scale);
  train_config().validate();
}

TrainConfig FinetuneOptions::train_config() const {
  TrainConfig c;
  c.epochs = 1;  // the whole run is one "epoch" of the schedule: warm-up and decay over all its steps
  c.batch = batch;
  c.optimizer = OptimizerKind::Adam;
  c.lr = lr;
  c.seed = seed;
  c.schedule = Schedule::Cosine;
  c.warmup = 0.1f;
  c.augment = true;
  c.augment_params = kDefaultAugment;
  return c;
}

// ---- where the result may go ----------------------------------------------------------------------------
void check_personal_out(const std::string& out_path, const std::string& base_path) {
  DIGITS_CHECK(!out_path.empty(), "--out: no file given");
  std::error_code ec;
  const fs::path out = fs::weakly_canonical(fs::absolute(out_path), ec);
  const fs::path base = fs::weakly_canonical(fs::absolute(base_path), ec);
  DIGITS_CHECK(out != base && !fs::equivalent(out_path, base_path, ec),
               "--out " << out_path << " is the base model itself: the fine-tuned model never replaces the model it "
                           "started from; give another file (default: ~/.local/share/digits/models/personal.safetensors)");
  const fs::path dir = out.parent_path();
  DIGITS_CHECK(!(dir.filename() == "models" && dir.parent_path().filename() == "data"),
               "--out " << out_path << ": " << dir.string() << " holds the bundled models, which a fine-tuned model "
                        << "never overwrites; give a file elsewhere (default: "
                        << "~/.local/share/digits/models/personal.safetensors)");
  check_writable(out_path, "--out");
}

namespace {

// ---- data ---------------------------------------------------------------------------------------------
Dataset empty_like(const Dataset& d) {
  Dataset o;
  o.rows = d.rows, o.cols = d.cols;
  return o;
}

void append_image(Dataset* to, const Dataset& from, int i) {
  const auto first = from.images.begin() + long(size_t(i) * size_t(from.pixels()));
  to->images.insert(to->images.end(), first, first + from.pixels());
  to->labels.push_back(from.labels[size_t(i)]);
  to->count++;
}

void append_all(Dataset* to, const Dataset& from) {
  to->images.insert(to->images.end(), from.images.begin(), from.images.end());
  to->labels.insert(to->labels.end(), from.labels.begin(), from.labels.end());
  to->count += from.count;
}

struct Split {
  Dataset train, held;
};

// Of each digit's samples, round(holdout * n) chosen at random are held back, leaving at least one to train on.
Split split_samples(const Dataset& s, double holdout, uint64_t seed) {
  Split sp{empty_like(s), empty_like(s)};
  for (int d = 0; d < kClasses; ++d) {
    std::vector<int> of_digit;
    for (int i = 0; i < s.count; ++i)
      if (s.labels[size_t(i)] == d) of_digit.push_back(i);
    const int n = int(of_digit.size());
    const int held = std::min(n - 1, int(std::lround(holdout * n)));
    const std::vector<int32_t> order = epoch_permutation(n, seed, d);
    for (int k = 0; k < n; ++k) append_image(k < held ? &sp.held : &sp.train, s, of_digit[size_t(order[size_t(k)])]);
  }
  return sp;
}

}  // namespace

Dataset stroke_width_changed(const Dataset& d, bool thicker) {
  Dataset o = d;
  const int H = d.rows, W = d.cols;
  for (int i = 0; i < d.count; ++i) {
    const uint8_t* src = d.images.data() + size_t(i) * size_t(d.pixels());
    uint8_t* dst = o.images.data() + size_t(i) * size_t(d.pixels());
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        uint8_t v = src[y * W + x];
        auto with = [&](int yy, int xx) {
          const uint8_t n = (yy < 0 || yy >= H || xx < 0 || xx >= W) ? 0 : src[yy * W + xx];
          v = thicker ? std::max(v, n) : std::min(v, n);
        };
        with(y - 1, x), with(y + 1, x), with(y, x - 1), with(y, x + 1);
        dst[y * W + x] = v;
      }
  }
  return o;
}

namespace {

// The personal images trained on: the samples, and with stroke_widths their thinned and thickened copies.
Dataset personal_pool(const Dataset& train, bool stroke_widths) {
  Dataset p = train;
  if (!stroke_widths) return p;
  for (const bool thicker : {false, true}) append_all(&p, stroke_width_changed(train, thicker));
  return p;
}

// The images trained on, as one data set: the personal training samples first, then the replay images.
Dataset training_pool(const Dataset& personal, const Mnist* mnist) {
  Dataset pool = personal;
  if (!mnist) return pool;
  DIGITS_CHECK(mnist->train.rows == pool.rows && mnist->train.cols == pool.cols, "MNIST images are not 28x28");
  append_all(&pool, mnist->train);
  return pool;
}

// Which images each step trains on: `personal` of the n_personal samples, each once per pass over them in a
// fresh random order (with copies > 1, as one of its versions drawn at random: the pool holds the samples,
// then each further version of them), then batch - personal replay images drawn at random from the n_replay
// after them (none without MNIST).
struct Plan {
  int batch = 0, personal = 0, steps = 0, copies = 1;
};

Plan make_plan(const FinetuneOptions& opt, int n_personal, int copies, int n_replay) {
  Plan p;
  p.copies = copies;
  const int replay = n_replay > 0 ? int(std::lround(opt.replay * opt.batch)) : 0;
  p.personal = std::max(1, std::min(opt.batch - replay, n_personal));
  p.batch = p.personal + replay;
  p.steps = int((int64_t(opt.epochs) * n_personal + p.personal - 1) / p.personal);
  return p;
}

std::vector<int32_t> batch_indices(const Plan& p, int n_personal, int n_replay, uint64_t seed) {
  std::vector<int32_t> idx;
  idx.reserve(size_t(p.steps) * size_t(p.batch));
  std::vector<int32_t> order;
  size_t next = 0;
  int pass = 0;
  std::mt19937_64 rng(mix64(seed, 0x7265706c6179ull)), version(mix64(seed, 0x7374726f6b65ull));
  const int32_t first_replay = p.copies * n_personal;
  for (int s = 0; s < p.steps; ++s) {
    for (int k = 0; k < p.personal; ++k) {
      if (next == order.size()) order = epoch_permutation(n_personal, seed, pass++), next = 0;
      idx.push_back(order[next++] + int32_t(version() % uint64_t(p.copies)) * n_personal);
    }
    for (int k = p.personal; k < p.batch; ++k) idx.push_back(first_replay + int32_t(rng() % uint64_t(n_replay)));
  }
  return idx;
}

// ---- measuring ----------------------------------------------------------------------------------------
// The accuracies of the model as it is now: before (after == false) or after fine-tuning, with what it
// still misreads.
void measure(Model& model, const FinetuneData& data, const Dataset& held, bool after, FinetuneResult* r) {
  auto one = [&](const Dataset* d, Accuracy* a) {
    if (!d || d->count == 0) return;
    a->count = d->count;
    const EvalResult e = evaluate(model, ResidentData(model.backend(), *d), *d);
    (after ? a->after : a->before) = e.accuracy();
    if (after) a->misread = misreadings(e.confusion);
  };
  one(&held, &r->held_back);
  one(data.mnist ? &data.mnist->test : nullptr, &r->mnist_test);
  one(data.check, &r->check);
}

double cpu_seconds_now() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// ---- training ---------------------------------------------------------------------------------------
constexpr int kReportEvery = 5;       // steps between progress reports (and loss checks)
constexpr int kRecalibrateBatches = 20;  // clean batches of the plan that re-estimate batch-norm statistics
constexpr int kEvalBatch = 500;       // images per forward pass when measuring

// The dense layers' own learning rate on top of the optimizer's one for all: after each step, the change of
// their parameters scaled by dense_lr_scale, as Adam's change is proportional to its rate. On the
// backend, with its copy and its SGD update at momentum 0 (w -= rate * g) as the axpy.
class DenseRate {
 public:
  DenseRate(Model& model, const FinetuneOptions& opt)
      : model_(model), scale_(opt.dense_lr_scale) {
    for (const TensorBinding& t : model.tensors()) {
      if (!t.trainable || model.spec().layers[t.layer].kind != "dense" || scale_ == 1.f) continue;
      if (!slices_.empty() && slices_.back().end() == t.offset)
        slices_.back().size += t.size;
      else
        slices_.push_back({t.offset, t.size, size_});
      size_ += t.size;
    }
    before_ = Buffer<float>(model.backend(), size_), scratch_ = Buffer<float>(model.backend(), size_);
    if (size_ > 0) model.backend().fill(scratch_.data(), size_, 0.f);  // momentum 0 times it must stay 0
  }
  void before_step() {
    for (const Slice& s : slices_) model_.backend().copy(before(s), param(s), s.size * sizeof(float));
  }
  // w = before + scale (w - before): first before = before - w, then w -= (scale - 1) before.
  void after_step() {
    for (const Slice& s : slices_) {
      model_.backend().sgd_update(s.size, {1.f, 0.f}, before(s), param(s), scratch_.data() + s.at);
      model_.backend().sgd_update(s.size, {scale_ - 1.f, 0.f}, param(s), before(s), scratch_.data() + s.at);
    }
  }

 private:
  struct Slice {
    size_t offset = 0, size = 0;  // in the parameter buffer
    size_t at = 0;                // in before_ and scratch_
    size_t end() const { return offset + size; }
  };
  float* param(const Slice& s) { return model_.params() + s.offset; }
  float* before(const Slice& s) { return before_.data() + s.at; }

  Model& model_;
  float scale_;
  std::vector<Slice> slices_;
  size_t size_ = 0;
  Buffer<float> before_, scratch_;
};

// The planned steps, until done, cancelled or out of time. Reports progress; a NaN/Inf loss throws.
void run_steps(Model& model, TrainStep& step, const ResidentData& pool, const int32_t* index, const Plan& plan,
               const FinetuneOptions& opt, FinetuneResult* r) {
  const TrainConfig cfg = opt.train_config();
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  DenseRate rates(model, opt);
  step.reset_stats();
  int since = 0;
  for (int s = 0; s < plan.steps; ++s) {
    if (opt.cancel && opt.cancel->load()) {
      r->cancelled = true;
      return;
    }
    if (opt.seconds > 0 && elapsed() >= opt.seconds) {
      r->out_of_time = true;
      break;
    }
    rates.before_step();
    step.run(pool, index + size_t(s) * size_t(plan.batch), plan.batch, s, scheduled_lr(cfg, s, plan.steps));
    rates.after_step();
    r->steps = s + 1;
    if (++since < kReportEvery && s + 1 < plan.steps) continue;
    const StepStats st = step.read_stats();
    // Only a NaN/Inf loss stops it: a style the base model misreads confidently starts far above chance.
    DIGITS_CHECK(std::isfinite(st.loss_sum), "fine-tuning stopped: the loss became " << st.loss_sum << " by step "
                                                 << s + 1 << "; try a smaller --lr (nothing was written)");
    if (opt.on_progress) opt.on_progress({s + 1, plan.steps, elapsed(), st.loss_sum / (since * plan.batch)});
    step.reset_stats();
    since = 0;
  }
}

// Batch norm's running statistics moved with augmented batches; re-estimated on clean batches of the same
// mix (as `digits train` does after augmented training), weights untouched.
void recalibrate(Model& model, TrainStep& step, const ResidentData& pool, const int32_t* index, const Plan& plan) {
  const int batches = std::min(plan.steps, kRecalibrateBatches);
  for (int k = 0; k < batches; ++k)
    model.recalibrate_batchnorm(step.gather(pool, index + size_t(k) * size_t(plan.batch), plan.batch), plan.batch,
                                1.0f / float(k + 1));
}

// The fine-tuning proper: the pool and the plan on the backend, the steps, the recalibration.
void train_on(Model& model, const Split& split, const FinetuneData& data, const FinetuneOptions& opt,
              FinetuneResult* r) {
  Backend& be = model.backend();
  const double cpu0 = cpu_seconds_now();
  const auto t0 = std::chrono::steady_clock::now();
  const Dataset personal = personal_pool(split.train, opt.stroke_widths);
  const ResidentData pool(be, training_pool(personal, data.mnist));
  const int n_personal = split.train.count, n_replay = pool.count - personal.count;
  const Plan plan = make_plan(opt, n_personal, personal.count / n_personal, n_replay);
  r->planned_steps = plan.steps;
  Buffer<int32_t> index(be, size_t(plan.steps) * size_t(plan.batch));
  index.upload(batch_indices(plan, n_personal, n_replay, opt.seed));
  TrainStep step(be, model, opt.train_config(), plan.batch);
  run_steps(model, step, pool, index.data(), plan, opt, r);
  if (!r->cancelled && r->steps > 0 && model.has_batchnorm()) recalibrate(model, step, pool, index.data(), plan);
  be.synchronize();
  r->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r->cpu_seconds = cpu_seconds_now() - cpu0;
}

// ---- the personal model file ----------------------------------------------------------------------------
std::string utc_now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void save_personal(const std::string& out, const std::string& base_path, const ModelFile& base, Model& model,
                   const FinetuneOptions& opt, const FinetuneResult& r) {
  auto base_meta = [&](const char* key, const std::string& fallback) {
    const auto it = base.metadata.find(key);
    return it == base.metadata.end() ? fallback : it->second;
  };
  const RunRecord run{base_meta(meta::kPreset, "custom"), opt.train_config(), 0, model.backend().name()};
  ModelFile f = training_file(run, {1, r.steps, r.mnist_test.after}, model, nullptr);
  f.metadata[meta::kDatasetCrc] = base_meta(meta::kDatasetCrc, "0");  // trained on, and replayed, the base's data
  if (r.mnist_test.after < 0) f.metadata.erase(meta::kTestAccuracy);  // not measured: no number is better than a guess
  f.metadata[meta::kFinetunedFrom] = fs::weakly_canonical(fs::absolute(base_path)).string();
  f.metadata[meta::kPersonalSamples] = std::to_string(r.trained_on);
  f.metadata[meta::kFinetunedAt] = utc_now_iso8601();
  f.metadata[meta::kFinetune] = nlohmann::json{{"epochs", opt.epochs},       {"seconds", opt.seconds},
                                               {"holdout", opt.holdout},     {"batch", opt.batch}, {"replay", opt.replay},
                                               {"lr", opt.lr},               {"seed", opt.seed},
                                               {"stroke_widths", opt.stroke_widths},
                                               {"dense_lr_scale", opt.dense_lr_scale},
                                               {"steps", r.steps},           {"planned_steps", r.planned_steps},
                                               {"held_back", r.held_back.count}, {"mnist_replay", r.mnist_test.count > 0}}
                                    .dump();
  save_model_file(out, f);
}

}  // namespace

std::optional<Mnist> find_replay_mnist(const std::string& data_dir, std::string* why) {
  try {
    return load_mnist(find_mnist_dir(data_dir));
  } catch (const Error& e) {
    if (!data_dir.empty()) throw;
    if (why) *why = e.what();
    return std::nullopt;
  }
}

std::vector<Misread> misreadings(const std::array<std::array<int, 10>, 10>& confusion) {
  std::vector<Misread> m;
  for (int t = 0; t < kClasses; ++t)
    for (int p = 0; p < kClasses; ++p)
      if (t != p && confusion[size_t(t)][size_t(p)] > 0) m.push_back({t, p, confusion[size_t(t)][size_t(p)]});
  // A total order, so plain sort (std::stable_sort's buffer trips ASan's new/delete check in GCC 12's libstdc++).
  std::sort(m.begin(), m.end(), [](const Misread& a, const Misread& b) {
    if (a.count != b.count) return a.count > b.count;
    return a.truth != b.truth ? a.truth < b.truth : a.read < b.read;
  });
  return m;
}

std::string describe(const std::vector<Misread>& misread, int most) {
  std::ostringstream o;
  for (size_t i = 0; i < misread.size() && int(i) < most; ++i)
    o << (i ? ", " : "") << misread[i].truth << " as " << misread[i].read << " (" << misread[i].count << ")";
  if (int(misread.size()) > most) o << ", ...";
  return o.str();
}

std::string digits_to_add(const std::vector<Misread>& misread, int most) {
  std::array<int, kClasses> per_digit{};
  for (const Misread& m : misread)
    if (m.truth >= 0 && m.truth < kClasses) per_digit[size_t(m.truth)] += m.count;
  std::vector<int> order;
  for (int d = 0; d < kClasses; ++d)
    if (per_digit[size_t(d)] > 0) order.push_back(d);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return per_digit[size_t(a)] != per_digit[size_t(b)] ? per_digit[size_t(a)] > per_digit[size_t(b)] : a < b;
  });
  if (int(order.size()) > most) order.resize(size_t(most));
  std::string o;
  for (size_t i = 0; i < order.size(); ++i)
    o += (i == 0 ? "" : i + 1 == order.size() ? " and " : ", ") + std::to_string(order[i]);
  return o;
}

// ---- the whole run --------------------------------------------------------------------------------------
FinetuneResult finetune(Backend& be, const std::string& base_path, const FinetuneData& data,
                        const FinetuneOptions& opt, const std::string& out_path) {
  opt.validate();
  DIGITS_CHECK(data.samples && data.samples->count > 0, "no personal samples to fine-tune on");
  DIGITS_CHECK(data.samples->rows == 28 && data.samples->cols == 28, "personal samples must be 28x28 (load_samples)");
  check_personal_out(out_path, base_path);
  ModelFile base;
  const auto model = load_model(be, base_path, std::max(opt.batch, kEvalBatch), &base);
  const Split split = split_samples(*data.samples, opt.holdout, opt.seed);
  FinetuneResult r;
  r.trained_on = split.train.count;
  measure(*model, data, split.held, false, &r);
  train_on(*model, split, data, opt, &r);
  if (r.cancelled) return r;
  measure(*model, data, split.held, true, &r);
  if (opt.cancel && opt.cancel->load()) {
    r.cancelled = true;
    return r;
  }
  save_personal(out_path, base_path, base, *model, opt, r);
  return r;
}

}  // namespace digits
