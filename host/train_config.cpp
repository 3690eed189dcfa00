// TrainConfig: names of the enums, the range checks, the JSON form stored in model files, and the presets.
#include "train_config.h"

#include <array>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "error.h"

namespace digits {

// ---- names ----------------------------------------------------------------------------------------------
namespace {

constexpr std::array<std::pair<const char*, OptimizerKind>, 3> kOptimizers{
    {{"adadelta", OptimizerKind::Adadelta}, {"sgd", OptimizerKind::Sgd}, {"adam", OptimizerKind::Adam}}};
constexpr std::array<std::pair<const char*, Schedule>, 2> kSchedules{
    {{"constant", Schedule::Constant}, {"cosine", Schedule::Cosine}}};

template <class Table, class E>
const char* name_of(const Table& table, E value) {
  for (const auto& [name, v] : table)
    if (v == value) return name;
  DIGITS_FAIL("enum value " << int(value) << " has no name");
}

// "a, b or c"
template <class Table>
std::string listed(const Table& table) {
  std::string s;
  for (size_t i = 0; i < table.size(); ++i) s += (i == 0 ? "" : i + 1 == table.size() ? " or " : ", ") + std::string(table[i].first);
  return s;
}

template <class Table>
auto value_of(const Table& table, const std::string& name, const char* what) {
  for (const auto& [n, v] : table)
    if (name == n) return v;
  DIGITS_FAIL("unknown " << what << " '" << name << "': use " << listed(table));
}

template <class Table>
std::vector<std::string> names_of(const Table& table) {
  std::vector<std::string> out;
  for (const auto& entry : table) out.emplace_back(entry.first);
  return out;
}

}  // namespace

const char* to_string(OptimizerKind k) { return name_of(kOptimizers, k); }
const char* to_string(Schedule s) { return name_of(kSchedules, s); }
OptimizerKind parse_optimizer(const std::string& name) { return value_of(kOptimizers, name, "optimizer"); }
Schedule parse_schedule(const std::string& name) { return value_of(kSchedules, name, "learning-rate schedule"); }
std::vector<std::string> optimizer_names() { return names_of(kOptimizers); }
std::vector<std::string> schedule_names() { return names_of(kSchedules); }

float default_lr(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::Adadelta: return 1.0f;
    case OptimizerKind::Sgd: return 0.01f;
    case OptimizerKind::Adam: return 1e-3f;
  }
  return 1.0f;
}

// ---- validation -----------------------------------------------------------------------------------------
namespace {
void check_augment(const AugmentParams& a) {
  auto in = [](const char* name, float v, float hi) {
    DIGITS_CHECK(v >= 0.f && v <= hi, "augmentation " << name << " must be in 0.." << hi << ", got " << v);
  };
  in("rotate_deg", a.rotate_deg, 180.f);
  in("zoom", a.zoom, 0.9f);
  in("shear", a.shear, 2.f);
  in("translate", a.translate, 28.f);
  in("elastic", a.elastic, 28.f);
}
}  // namespace

void TrainConfig::validate() const {
  DIGITS_CHECK(epochs > 0, "epochs must be positive, got " << epochs);
  DIGITS_CHECK(batch > 0 && batch <= 65536, "batch must be in 1..65536, got " << batch);
  DIGITS_CHECK(lr > 0.f && std::isfinite(lr), "learning rate must be positive, got " << lr);
  DIGITS_CHECK(momentum >= 0.f && momentum <= 1.f, "momentum must be in 0..1, got " << momentum);
  DIGITS_CHECK(warmup >= 0.f && warmup <= 1e6f, "warm-up must be 0 or more epochs, got " << warmup);
  DIGITS_CHECK(val >= 0, "--val must be 0 or more images to hold out, got " << val);
  DIGITS_CHECK(max_steps_per_epoch >= 0, "--max-steps must be positive (0: whole epochs), got " << max_steps_per_epoch);
  if (augment) check_augment(augment_params);
}

// ---- JSON -----------------------------------------------------------------------------------------------
std::string TrainConfig::to_json() const {
  nlohmann::json j = {{"epochs", epochs}, {"batch", batch}, {"optimizer", to_string(optimizer)}, {"lr", lr},
                      {"momentum", momentum}, {"seed", seed}, {"schedule", to_string(schedule)}, {"warmup", warmup},
                      {"val", val}};
  if (augment) {
    const AugmentParams& a = augment_params;
    j["augment"] = {{"rotate_deg", a.rotate_deg}, {"zoom", a.zoom}, {"shear", a.shear}, {"translate", a.translate},
                    {"elastic", a.elastic}};
  } else {
    j["augment"] = nullptr;
  }
  if (max_steps_per_epoch > 0) j["max_steps_per_epoch"] = max_steps_per_epoch;
  return j.dump();
}

namespace {
// A number within [lo, hi]: converting an out-of-range value (1e300 to float or int) would be undefined
// behaviour, so a corrupt file is caught here; validate() then checks what makes sense.
double config_number(const nlohmann::json& j, const char* key, double lo, double hi) {
  const auto& v = j.at(key);
  const double d = v.is_number() ? v.get<double>() : std::nan("");
  if (!(d >= lo && d <= hi)) throw std::out_of_range(std::string(key) + " is " + v.dump() + ", outside the valid range");
  return d;
}
constexpr double kIntMax = 1 << 30, kFloatMax = std::numeric_limits<float>::max();
float config_float(const nlohmann::json& j, const char* key) { return float(config_number(j, key, -kFloatMax, kFloatMax)); }
int config_int(const nlohmann::json& j, const char* key) { return int(config_number(j, key, 0, kIntMax)); }

TrainConfig parse_config(const nlohmann::json& j) {
  TrainConfig c;
  c.epochs = config_int(j, "epochs");
  c.batch = config_int(j, "batch");
  c.optimizer = parse_optimizer(j.at("optimizer").get<std::string>());
  c.lr = config_float(j, "lr");
  c.momentum = config_float(j, "momentum");
  if (!j.at("seed").is_number_unsigned()) throw std::out_of_range("seed is " + j.at("seed").dump() + ", not a seed");
  c.seed = j.at("seed").get<uint64_t>();
  // Keys added with the `best` preset; files written before them train without any of it.
  if (j.contains("schedule")) c.schedule = parse_schedule(j.at("schedule").get<std::string>());
  if (j.contains("warmup")) c.warmup = config_float(j, "warmup");
  if (j.contains("val")) c.val = config_int(j, "val");
  c.augment = j.contains("augment") && !j.at("augment").is_null();
  if (c.augment) {
    const auto& a = j.at("augment");
    c.augment_params = {config_float(a, "rotate_deg"), config_float(a, "zoom"), config_float(a, "shear"),
                        config_float(a, "translate"), config_float(a, "elastic")};
  }
  if (j.contains("max_steps_per_epoch")) c.max_steps_per_epoch = config_int(j, "max_steps_per_epoch");
  return c;
}
}  // namespace

TrainConfig TrainConfig::from_json(const std::string& text, const std::string& path) {
  try {
    const TrainConfig c = parse_config(nlohmann::json::parse(text));
    c.validate();
    return c;
  } catch (const std::exception& e) {
    DIGITS_FAIL(path << ": bad train_config in metadata: " << e.what());
  }
}

// ---- presets --------------------------------------------------------------------------------------------
const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = [] {
    std::vector<Preset> p;
    Preset seed;
    seed.name = "seed";
    seed.description = "the original Keras/Tkinter project's network (about 99%)";
    seed.spec = "conv(32,5) relu maxpool(2) conv(64,3) relu maxpool(2) flatten dense(128) relu dropout(0.3) "
                "dense(64) relu dropout(0.5) dense(10)";
    seed.train.epochs = 10;
    p.push_back(seed);
    Preset keras;
    keras.name = "keras";
    keras.description = "the Keras/PyTorch MNIST example network, the common yardstick (about 99.2%)";
    keras.spec = "conv(32,3) relu conv(64,3) relu maxpool(2) dropout(0.25) flatten dense(128) relu dropout(0.5) dense(10)";
    keras.train.epochs = 12;
    p.push_back(keras);
    Preset best;
    best.name = "best";
    best.description = "deeper conv net with batch norm, augmentation and a cosine schedule (99.7%)";
    best.spec = "conv(32,3) batchnorm relu conv(32,3) batchnorm relu maxpool(2) "
                "conv(64,3) batchnorm relu conv(64,3) batchnorm relu maxpool(2) "
                "flatten dense(256) batchnorm relu dropout(0.4) dense(10)";
    best.train.epochs = 20;
    best.train.optimizer = OptimizerKind::Adam;
    best.train.lr = 2e-3f;
    best.train.schedule = Schedule::Cosine;
    best.train.warmup = 1.f;
    best.train.augment = true;
    // Its settings were chosen with `--val 5000` (the last 5,000 training images held out, never the test
    // set); the preset then trains on all 60,000.
    p.push_back(best);
    Preset fast;
    fast.name = "fast";
    fast.description = "99% in one epoch: a small batch-normed conv net, Adam with a one-cycle schedule";
    // Pooling before batch norm and ReLU: they then run on a quarter of the values (ReLU commutes with
    // max-pooling; normalising after the pool measured as accurate on --val and 20% cheaper per epoch).
    fast.spec = "conv(24,5) maxpool(2) batchnorm relu conv(32,3) maxpool(2) batchnorm relu flatten dense(256) relu "
                "dense(10)";
    fast.train.epochs = 1;
    fast.train.batch = 128;
    fast.train.optimizer = OptimizerKind::Adam;
    fast.train.lr = 5e-3f;
    fast.train.schedule = Schedule::Cosine;
    fast.train.warmup = 0.2f;
    // Chosen with `--val 5000` over seeds 1-3 (README "The fast preset"); trains on all 60,000.
    p.push_back(fast);
    return p;
  }();
  return all;
}

const Preset& find_preset(const std::string& name) {
  std::string known;
  for (const auto& p : presets()) {
    if (p.name == name) return p;
    if (!known.empty()) known += ", ";
    known += p.name;
  }
  DIGITS_FAIL("unknown preset '" << name << "': choose one of " << known);
}

}  // namespace digits
