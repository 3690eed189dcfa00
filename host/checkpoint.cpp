// Training files: metadata written into every checkpoint and final model, checkpoints parsed back for --resume.
#include "checkpoint.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <vector>

#include "error.h"

namespace digits {

// ---- writing ----------------------------------------------------------------------------------------------
std::string input_scale_text(float scale) {
  // The float 1/255 is not exactly 1/255: files have always said the exact value, and keep saying it.
  if (scale == kDefaultInputScale) return "0.00392156862745098";
  std::ostringstream os;
  os << std::setprecision(9) << scale;  // enough digits to read back the same float
  return os.str();
}

ModelFile training_file(const RunRecord& run, const RunPosition& at, const Model& model, const Optimizer* state) {
  TrainConfig recorded = run.cfg;
  if (!state) recorded.max_steps_per_epoch = 0;  // a model records how to train it again, not a smoke run's cut
  ModelFile f;
  f.metadata[meta::kFormat] = meta::kFormatValue;
  f.metadata[meta::kSpec] = model.spec().text();
  f.metadata[meta::kPreset] = run.preset;
  f.metadata[meta::kTrainConfig] = recorded.to_json();
  f.metadata[meta::kDatasetCrc] = std::to_string(run.dataset_crc);
  std::ostringstream acc;
  acc << std::setprecision(6) << at.test_accuracy;
  f.metadata[meta::kTestAccuracy] = acc.str();
  f.metadata[meta::kInputScale] = input_scale_text(model.input_scale());
  f.metadata["epoch"] = std::to_string(at.epoch);
  f.metadata["step"] = std::to_string(at.step);
  f.metadata["backend"] = run.backend;
  f.metadata["created_by"] = std::string("digits ") + DIGITS_VERSION;
  f.tensors = model.export_params();
  if (state)
    for (auto& t : state->export_state()) f.tensors.push_back(std::move(t));
  return f;
}

void save_training_file(const std::string& path, const RunRecord& run, const RunPosition& at, const Model& model,
                        const Optimizer* state) {
  save_model_file(path, training_file(run, at, model, state));
}

// ---- reading ----------------------------------------------------------------------------------------------
namespace {

const std::string& meta_or(const ModelFile& f, const std::string& key, const std::string& path) {
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

NetSpec spec_of(const ModelFile& f, const std::string& path) {
  try {
    return NetSpec::parse(meta_or(f, meta::kSpec, path));
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind(path + ": ", 0) == 0) throw;
    DIGITS_FAIL(path << ": bad network spec in metadata: " << what);
  }
}

}  // namespace

ResumePoint read_checkpoint(const std::string& path, uint32_t dataset_crc) {
  ResumePoint r;
  r.file = load_model_file(path);
  r.spec = spec_of(r.file, path);
  r.cfg = TrainConfig::from_json(meta_or(r.file, meta::kTrainConfig, path), path);
  r.preset = meta_or(r.file, meta::kPreset, path);
  r.at.epoch = int(meta_int(r.file, "epoch", path, 0, 1 << 30));
  r.at.step = meta_int(r.file, "step", path, 0, INT64_MAX);
  const std::string crc = meta_or(r.file, meta::kDatasetCrc, path);
  DIGITS_CHECK(crc == std::to_string(dataset_crc), path << ": checkpoint was trained on another data set (CRC " << crc
                                                        << ", this one " << dataset_crc << ")");
  return r;
}

// ---- outputs ----------------------------------------------------------------------------------------------
void check_writable(const std::string& path, const char* what) {
  if (path.empty()) return;
  namespace fs = std::filesystem;
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  DIGITS_CHECK(fs::is_directory(dir), what << " " << path << ": directory " << dir.string() << " does not exist");
  DIGITS_CHECK(!fs::is_directory(path), what << " " << path << ": is a directory; give a file name");
  const fs::path probe = dir / (".digits-write-test." + std::to_string(::getpid()));
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

}  // namespace digits
