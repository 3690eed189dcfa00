// The training loop: batches are gathered on the backend from the resident uint8 data set, so a step
// copies nothing between host and device except the two-number loss/accuracy sum when progress is drawn.
#include "trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "error.h"
#include "model_file.h"
#include "optimizer.h"

namespace digits {

namespace {

constexpr float kInputScale = 1.0f / 255.0f;  // x = pixel / 255, as the seed project (Keras) did
constexpr int kClasses = 10;
constexpr int kCheckEvery = 50;  // steps between loss checks when no progress bar is drawn
// A mean training loss this far above guessing's ln(10) = 2.3 is a diverged run (learning rate too high),
// not a slow one: it is stopped like a NaN loss instead of writing a useless model.
const double kDivergedLoss = 4 * std::log(double(kClasses));

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

uint64_t mix64(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string format_duration(double s) {
  const long t = long(s + 0.5);
  std::ostringstream os;
  if (t >= 3600) os << t / 3600 << ":" << std::setw(2) << std::setfill('0') << (t / 60) % 60 << ":";
  else os << (t / 60) << ":";
  os << std::setw(2) << std::setfill('0') << t % 60;
  return os.str();
}

// Fails before training when the output cannot be written (missing or read-only directory, disk full).
void check_writable(const std::string& path, const char* what) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  DIGITS_CHECK(fs::is_directory(dir), what << " " << path << ": directory " << dir.string() << " does not exist");
  DIGITS_CHECK(!fs::is_directory(path), what << " " << path << ": is a directory; give a file name");
  const fs::path probe = dir / (".digits-write-test." + std::to_string(::getpid()));
  {
    std::ofstream f(probe, std::ios::binary);
    std::vector<char> block(1 << 20, 0);  // 1 MiB: a disk with less free space than that is reported now
    f.write(block.data(), std::streamsize(block.size()));
    f.flush();
    const bool ok = bool(f);
    f.close();
    std::error_code ec;
    fs::remove(probe, ec);
    DIGITS_CHECK(ok, what << " " << path << ": cannot write in " << dir.string() << " (read-only, or disk full?)");
  }
}

std::string config_json(const TrainConfig& c) {
  nlohmann::json j = {{"epochs", c.epochs}, {"batch", c.batch}, {"optimizer", c.optimizer}, {"lr", c.lr},
                      {"momentum", c.momentum}, {"seed", c.seed}, {"schedule", c.schedule}, {"warmup", c.warmup},
                      {"val", c.val}};
  if (c.augment) {
    const AugmentParams& a = c.augment_params;
    j["augment"] = {{"rotate_deg", a.rotate_deg}, {"zoom", a.zoom}, {"shear", a.shear}, {"translate", a.translate},
                    {"elastic", a.elastic}};
  } else {
    j["augment"] = nullptr;
  }
  return j.dump();
}

// A number of the config within [lo, hi]: converting an out-of-range value (1e300 to float or int) would
// be undefined behaviour, so a corrupt checkpoint is caught here.
double config_number(const nlohmann::json& j, const char* key, double lo, double hi) {
  const auto& v = j.at(key);
  const double d = v.is_number() ? v.get<double>() : std::nan("");
  if (!(d >= lo && d <= hi)) throw std::out_of_range(std::string(key) + " is " + v.dump() + ", outside the valid range");
  return d;
}

TrainConfig config_from_json(const std::string& s, const std::string& path) {
  TrainConfig c;
  try {
    const auto j = nlohmann::json::parse(s);
    c.epochs = int(config_number(j, "epochs", 0, 1 << 30));
    c.batch = int(config_number(j, "batch", 0, 1 << 30));
    c.optimizer = j.at("optimizer").get<std::string>();
    const double kFloatMax = std::numeric_limits<float>::max();
    c.lr = float(config_number(j, "lr", 0, kFloatMax));
    c.momentum = float(config_number(j, "momentum", -kFloatMax, kFloatMax));
    if (!j.at("seed").is_number_unsigned()) throw std::out_of_range("seed is " + j.at("seed").dump() + ", not a seed");
    c.seed = j.at("seed").get<uint64_t>();
    // Keys added with the `best` preset; files written before them train without any of it.
    if (j.contains("schedule")) c.schedule = j.at("schedule").get<std::string>();
    if (c.schedule != "constant" && c.schedule != "cosine") throw std::out_of_range("schedule '" + c.schedule + "' is unknown");
    if (j.contains("warmup")) c.warmup = float(config_number(j, "warmup", 0, 1e6));
    if (j.contains("val")) c.val = int(config_number(j, "val", 0, 1 << 30));
    c.augment = j.contains("augment") && !j.at("augment").is_null();
    if (c.augment) {
      const auto& a = j.at("augment");
      c.augment_params = {float(config_number(a, "rotate_deg", 0, 180)), float(config_number(a, "zoom", 0, 0.9)),
                          float(config_number(a, "shear", 0, 2)), float(config_number(a, "translate", 0, 28)),
                          float(config_number(a, "elastic", 0, 28))};
    }
  } catch (const std::exception& e) {
    DIGITS_FAIL(path << ": bad train_config in metadata: " << e.what());
  }
  return c;
}

std::string meta_or(const ModelFile& f, const std::string& key, const std::string& path) {
  auto it = f.metadata.find(key);
  DIGITS_CHECK(it != f.metadata.end(), path << ": not a training checkpoint (its metadata lacks '" << key
                                              << "'); resume from the .ckpt.safetensors file train writes each epoch");
  return it->second;
}

// An integer metadata value of a checkpoint in [lo, hi] (std::stoll would throw a non-digits exception).
int64_t meta_int(const ModelFile& f, const std::string& key, const std::string& path, int64_t lo, int64_t hi) {
  const std::string s = meta_or(f, key, path);
  int64_t v = 0;
  size_t used = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  DIGITS_CHECK(used == s.size() && used > 0 && v >= lo && v <= hi,
               path << ": checkpoint metadata '" << key << "' is '" << s << "', not a number in " << lo << ".." << hi
                    << ": the file is corrupt");
  return v;
}

}  // namespace

// ---- data and evaluation ----------------------------------------------------------------------------
ResidentData::ResidentData(Backend& be, const Dataset& d)
    : count(d.count), pixels(d.pixels()), images(be, d.images.size()), labels(be, d.labels.size()) {
  images.upload(d.images);
  labels.upload(d.labels);
}

std::vector<int32_t> epoch_permutation(int n, uint64_t seed, int epoch) {
  std::vector<int32_t> p(size_t(std::max(n, 0)));
  for (int i = 0; i < n; ++i) p[size_t(i)] = i;
  std::mt19937_64 rng(mix64(seed, uint64_t(epoch)));
  for (int i = n - 1; i > 0; --i) {
    // Lemire-free but exact: rejection sampling keeps the draw uniform and platform-independent.
    const uint64_t bound = uint64_t(i) + 1, limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = rng();
    while (r >= limit);
    std::swap(p[size_t(i)], p[size_t(r % bound)]);
  }
  return p;
}

EvalResult evaluate(Model& model, const ResidentData& data, const Dataset& host) {
  Backend& be = model.backend();
  const int B = model.max_batch();
  EvalResult r;
  r.count = data.count;
  r.predicted.resize(size_t(data.count));
  r.probs.resize(size_t(data.count) * kClasses);
  std::vector<int32_t> identity(size_t(data.count));
  for (int i = 0; i < data.count; ++i) identity[size_t(i)] = i;
  Buffer<int32_t> index(be, identity.size()), y(be, size_t(B));
  index.upload(identity);
  Buffer<float> x(be, size_t(B) * data.pixels), probs(be, size_t(B) * kClasses), loss(be, size_t(B));
  std::vector<float> h_probs(size_t(B) * kClasses), h_loss(static_cast<size_t>(B));
  double loss_sum = 0;
  for (int start = 0; start < data.count; start += B) {
    const int n = std::min(B, data.count - start);
    be.gather_batch(n, data.pixels, data.images.data(), data.labels.data(), index.data() + start, kInputScale, 0.f,
                    x.data(), y.data());
    const float* logits = model.forward(x.data(), n, false, 0);
    be.softmax_xent(n, kClasses, logits, y.data(), probs.data(), loss.data(), nullptr, 0.f);
    be.download(h_probs.data(), probs.data(), size_t(n) * kClasses * sizeof(float));
    be.download(h_loss.data(), loss.data(), size_t(n) * sizeof(float));
    for (int i = 0; i < n; ++i) {
      const float* p = &h_probs[size_t(i) * kClasses];
      std::copy(p, p + kClasses, r.probs.begin() + long(size_t(start + i) * kClasses));
      int best = 0;
      for (int k = 1; k < kClasses; ++k)
        if (p[k] > p[best]) best = k;
      const int truth = host.labels[size_t(start + i)];
      r.predicted[size_t(start + i)] = uint8_t(best);
      r.confusion[size_t(truth)][size_t(best)]++;
      r.correct += best == truth;
      loss_sum += h_loss[size_t(i)];
    }
  }
  r.loss = loss_sum / std::max(1, data.count);
  return r;
}

// ---- training -------------------------------------------------------------------------------------
TrainResult train(Backend& be, const Mnist& data, const TrainOptions& opt_in) {
  TrainOptions opt = opt_in;
  std::ostream& log = opt.log ? *opt.log : std::cerr;
  NetSpec spec = opt.spec;
  TrainConfig cfg = opt.cfg;

  // Resume: the checkpoint's spec, config and state win; only the number of epochs may be raised.
  ModelFile ckpt;
  int done_epochs = 0;
  int64_t step = 0;
  if (!opt.resume.empty()) {
    ckpt = load_model_file(opt.resume);
    try {
      spec = NetSpec::parse(meta_or(ckpt, meta::kSpec, opt.resume));
    } catch (const Error& e) {
      const std::string what = e.what();
      if (what.rfind(opt.resume + ": ", 0) == 0) throw;
      DIGITS_FAIL(opt.resume << ": bad network spec in metadata: " << what);
    }
    const int want_epochs = cfg.epochs;
    cfg = config_from_json(meta_or(ckpt, meta::kTrainConfig, opt.resume), opt.resume);
    if (want_epochs > 0) cfg.epochs = want_epochs;
    opt.preset = meta_or(ckpt, meta::kPreset, opt.resume);
    done_epochs = int(meta_int(ckpt, "epoch", opt.resume, 0, 1 << 30));
    step = meta_int(ckpt, "step", opt.resume, 0, INT64_MAX);
    const std::string crc = meta_or(ckpt, meta::kDatasetCrc, opt.resume);
    DIGITS_CHECK(crc == std::to_string(data.crc32), opt.resume << ": checkpoint was trained on another data set (CRC "
                                                                << crc << ", this one " << data.crc32 << ")");
  }
  DIGITS_CHECK(cfg.epochs > 0, "epochs must be positive, got " << cfg.epochs);
  DIGITS_CHECK(cfg.batch > 0 && cfg.batch <= 65536, "batch must be in 1..65536, got " << cfg.batch);
  check_writable(opt.out, "--out");
  check_writable(opt.checkpoint, "checkpoint");

  Model model(be, spec, cfg.batch);
  Optimizer optimizer(be, cfg, model.param_count());
  if (!opt.resume.empty()) {
    model.import_params(ckpt, opt.resume);
    optimizer.import_state(ckpt, opt.resume);
    log << "resuming " << opt.resume << " after epoch " << done_epochs << " (step " << step << ")\n";
  } else {
    model.init(cfg.seed);
  }

  // Validation: the last cfg.val training images are held out (never trained on) and evaluated each epoch,
  // so choices can be made without looking at the test set.
  DIGITS_CHECK(cfg.val >= 0 && cfg.val < data.train.count,
               "--val " << cfg.val << " must leave training images (the training set has " << data.train.count << ")");
  const Dataset& train_set = data.train;
  Dataset val_set;
  if (cfg.val > 0) {
    val_set.count = cfg.val;
    val_set.rows = train_set.rows;
    val_set.cols = train_set.cols;
    const size_t first = size_t(train_set.count - cfg.val);
    val_set.images.assign(train_set.images.begin() + long(first * train_set.pixels()), train_set.images.end());
    val_set.labels.assign(train_set.labels.begin() + long(first), train_set.labels.end());
  }
  ResidentData train_d(be, train_set), test_d(be, data.test);
  std::unique_ptr<ResidentData> val_d = cfg.val > 0 ? std::make_unique<ResidentData>(be, val_set) : nullptr;
  const int n = train_d.count - cfg.val, B = cfg.batch;
  int steps_per_epoch = (n + B - 1) / B;
  if (opt.max_steps_per_epoch > 0) steps_per_epoch = std::min(steps_per_epoch, opt.max_steps_per_epoch);

  Buffer<int32_t> index(be, size_t(n)), y(be, size_t(B));
  Buffer<float> x(be, size_t(B) * train_d.pixels), probs(be, size_t(B) * kClasses), loss(be, size_t(B)),
      dlogits(be, size_t(B) * kClasses);
  Buffer<double> stats(be, 2);

  log << "training " << (opt.preset.empty() ? "custom" : opt.preset) << " (" << model.param_count()
      << " parameters) on " << be.name() << ": " << cfg.epochs << " epochs, batch " << B << ", " << cfg.optimizer
      << " lr " << cfg.lr << (cfg.schedule == "constant" ? "" : " (" + cfg.schedule + ")") << ", seed " << cfg.seed
      << (cfg.augment ? ", augmented" : "")
      << (cfg.val > 0 ? ", " + std::to_string(cfg.val) + " images held out for validation" : "") << "\n";

  auto save = [&](const std::string& path, bool with_state, int epoch, double test_acc) {
    ModelFile f;
    f.metadata[meta::kFormat] = meta::kFormatValue;
    f.metadata[meta::kSpec] = spec.text();
    f.metadata[meta::kPreset] = opt.preset;
    f.metadata[meta::kTrainConfig] = config_json(cfg);
    f.metadata[meta::kDatasetCrc] = std::to_string(data.crc32);
    std::ostringstream acc;
    acc << std::setprecision(6) << test_acc;
    f.metadata[meta::kTestAccuracy] = acc.str();
    f.metadata[meta::kInputScale] = "0.00392156862745098";  // 1/255
    f.metadata["epoch"] = std::to_string(epoch);
    f.metadata["step"] = std::to_string(step);
    f.metadata["backend"] = be.name();
    f.metadata["created_by"] = std::string("digits ") + DIGITS_VERSION;
    f.tensors = model.export_params();
    if (with_state)
      for (auto& t : optimizer.export_state()) f.tensors.push_back(std::move(t));
    save_model_file(path, f);
  };

  TrainResult result;
  result.test_accuracy = 0;
  std::string last_good = opt.resume.empty() ? std::string("none") : opt.resume;
  for (int epoch = done_epochs + 1; epoch <= cfg.epochs; ++epoch) {
    const auto t0 = Clock::now();
    index.upload(epoch_permutation(n, cfg.seed, epoch));
    const double zero[2] = {0, 0};
    be.upload(stats.data(), zero, sizeof zero);
    int images = 0;
    double h_stats[2] = {0, 0};
    auto read_stats = [&](int at_step) {
      be.download(h_stats, stats.data(), sizeof h_stats);
      if (!std::isfinite(h_stats[0]))
        DIGITS_FAIL("training stopped: the loss became " << h_stats[0] << " in epoch " << epoch << " by step " << at_step
                                                         << " (learning rate " << cfg.lr << " too high?); last good checkpoint: "
                                                         << last_good);
      const double mean_loss = images > 0 ? h_stats[0] / images : 0.0;
      if (mean_loss > kDivergedLoss)
        DIGITS_FAIL("training stopped: the loss diverged to " << mean_loss << " (guessing gives " << std::log(double(kClasses))
                                                             << ") in epoch " << epoch << " by step " << at_step
                                                             << ": learning rate " << cfg.lr
                                                             << " is too high, try a smaller --lr; last good checkpoint: "
                                                             << last_good);
    };
    auto last_draw = Clock::now();
    for (int s = 0; s < steps_per_epoch; ++s) {
      const int nb = std::min(B, n - s * B);
      const uint64_t step_seed = mix64(cfg.seed, uint64_t(step));
      if (cfg.augment)
        be.augment_batch(nb, train_set.rows, train_set.cols, train_d.images.data(), train_d.labels.data(),
                         index.data() + size_t(s) * B, cfg.augment_params, mix64(step_seed, 0x6175676d656e74ull),
                         kInputScale, 0.f, x.data(), y.data());
      else
        be.gather_batch(nb, train_d.pixels, train_d.images.data(), train_d.labels.data(), index.data() + size_t(s) * B,
                        kInputScale, 0.f, x.data(), y.data());
      const float* logits = model.forward(x.data(), nb, true, step_seed);
      be.softmax_xent(nb, kClasses, logits, y.data(), probs.data(), loss.data(), dlogits.data(), 1.0f / float(nb));
      be.accumulate_stats(nb, kClasses, probs.data(), y.data(), loss.data(), stats.data());
      model.backward(dlogits.data(), nb, step_seed);
      optimizer.step(model.params(), model.grads(), scheduled_lr(cfg, step, steps_per_epoch));
      ++step;
      images += nb;
      const bool draw = opt.progress_bar && seconds_since(last_draw) > 0.25;
      if (draw || s % kCheckEvery == kCheckEvery - 1) read_stats(int(step));  // stop a NaN run early
      if (draw) {
        last_draw = Clock::now();
        const double el = seconds_since(t0), frac = double(s + 1) / steps_per_epoch;
        const int width = 24, filled = int(frac * width);
        log << "\repoch " << epoch << "/" << cfg.epochs << " [" << std::string(size_t(filled), '#')
            << std::string(size_t(width - filled), '-') << "] " << std::setw(3) << int(frac * 100) << "%  "
            << std::fixed << std::setprecision(0) << images / el << " img/s  loss " << std::setprecision(4)
            << h_stats[0] / images << "  ETA " << format_duration(el / frac - el) << "   " << std::flush;
        log.unsetf(std::ios::fixed);
      }
    }
    read_stats(int(step));
    const double train_seconds = seconds_since(t0);
    EvalResult test = evaluate(model, test_d, data.test);
    const EvalResult val = val_d ? evaluate(model, *val_d, val_set) : EvalResult{};
    // The last update can break the weights after the last training loss was measured: check them on the
    // test set before they become a checkpoint that would be called good.
    if (!std::isfinite(test.loss) || test.loss > kDivergedLoss)
      DIGITS_FAIL("training stopped: after epoch " << epoch << " (step " << step << ") the test loss is " << test.loss
                                                   << ": the weights diverged (learning rate " << cfg.lr
                                                   << " too high? try a smaller --lr); last good checkpoint: " << last_good);
    EpochReport rep;
    rep.epoch = epoch;
    rep.train_loss = h_stats[0] / images;
    rep.train_accuracy = h_stats[1] / images;
    rep.test_loss = test.loss;
    rep.test_accuracy = test.accuracy();
    if (val_d) rep.val_loss = val.loss, rep.val_accuracy = val.accuracy();
    rep.seconds = train_seconds;
    rep.images_per_s = images / train_seconds;
    if (!opt.checkpoint.empty()) {
      save(opt.checkpoint, true, epoch, rep.test_accuracy);
      last_good = opt.checkpoint + " (epoch " + std::to_string(epoch) + ")";
    }
    if (opt.progress_bar) log << "\r" << std::string(96, ' ') << "\r";
    log << "epoch " << epoch << "/" << cfg.epochs << "  loss " << std::fixed << std::setprecision(4) << rep.train_loss
        << "  train " << std::setprecision(2) << 100 * rep.train_accuracy << "%  ";
    if (val_d) log << "val " << 100 * rep.val_accuracy << "%  ";
    log << "test " << 100 * rep.test_accuracy
        << "%  " << std::setprecision(1) << rep.seconds << " s  " << std::setprecision(0) << rep.images_per_s
        << " img/s\n"
        << std::flush;
    log.unsetf(std::ios::fixed);
    result.epochs.push_back(rep);
    result.test_accuracy = rep.test_accuracy;
    if (opt.on_epoch) opt.on_epoch(rep);
  }
  if (result.epochs.empty()) {  // resumed a finished run: report its accuracy
    result.test_accuracy = evaluate(model, test_d, data.test).accuracy();
  }
  // Augmented batches gave batch norm its running statistics; the clean images the model will read have
  // slightly different ones. Re-estimate them, as an average over one pass of the un-augmented training
  // images (weights untouched), before the final model is written. Checkpoints keep the training ones, so
  // --resume stays exact; resuming a finished run redoes this step and writes the same model.
  if (cfg.augment && model.has_batchnorm()) {
    const double before_test = result.test_accuracy;
    const double before_val = val_d ? evaluate(model, *val_d, val_set).accuracy() : -1;
    std::vector<int32_t> in_order(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) in_order[size_t(i)] = i;
    index.upload(in_order);
    const int batches = std::max(1, n / B);  // full batches only (the partial one would weigh as much)
    for (int k = 0; k < batches; ++k) {
      const int nb = std::min(B, n - k * B);
      be.gather_batch(nb, train_d.pixels, train_d.images.data(), train_d.labels.data(), index.data() + size_t(k) * B,
                      kInputScale, 0.f, x.data(), y.data());
      model.recalibrate_batchnorm(x.data(), nb, 1.0f / float(k + 1));
    }
    result.test_accuracy = evaluate(model, test_d, data.test).accuracy();
    result.recalibrated = true;
    log << "batch-norm statistics re-estimated on " << std::min(n, batches * B) << " un-augmented training images:";
    if (val_d) {
      result.val_accuracy = evaluate(model, *val_d, val_set).accuracy();
      log << " val " << std::fixed << std::setprecision(2) << 100 * before_val << "% -> " << 100 * result.val_accuracy << "%,";
    }
    log << " test " << std::fixed << std::setprecision(2) << 100 * before_test << "% -> " << 100 * result.test_accuracy
        << "%\n";
    log.unsetf(std::ios::fixed);
  }
  result.steps = step;
  if (!opt.out.empty()) save(opt.out, false, cfg.epochs, result.test_accuracy);
  return result;
}

}  // namespace digits
