// Predictor: preprocess (host/preprocess) + one batched forward pass + softmax, on any backend.
#include "predictor.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "error.h"
#include "model.h"

namespace digits {

namespace {
constexpr int kMaxDigitsPerPass = 32;  // a drawing with more digits is classified in several passes
}

Predictor::Predictor(Backend& backend, const std::string& model_path)
    : backend_(backend), model_path_(model_path) {
  ModelFile file;
  model_ = load_model(backend, model_path, kMaxDigitsPerPass, &file);
  // Preprocessed pixels are 0..1 for 0..255; the network wants x = pixel * input_scale. The default scale
  // (1/255) is what they already are: no multiply, so not one value is rounded differently.
  const float scale = model_->input_scale();
  input_gain_ = scale == kDefaultInputScale ? 1.f : float(255.0 * double(scale));
  // Input, output and (unused) label buffers for one pass, allocated once: a GPU allocation per
  // prediction would cost more than the inference.
  x_ = Buffer<float>(backend, size_t(kMaxDigitsPerPass) * 28 * 28);
  probs_ = Buffer<float>(backend, size_t(kMaxDigitsPerPass) * 10);
  loss_ = Buffer<float>(backend, size_t(kMaxDigitsPerPass));
  labels_ = Buffer<int32_t>(backend, size_t(kMaxDigitsPerPass));
  labels_.upload(std::vector<int32_t>(size_t(kMaxDigitsPerPass), 0));
  auto get = [&](const char* k) {
    auto it = file.metadata.find(k);
    return it == file.metadata.end() ? std::string() : it->second;
  };
  description_ = get(meta::kPreset);
  if (description_.empty()) description_ = "custom";
  const std::string acc = get(meta::kTestAccuracy);
  if (!acc.empty()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " (test accuracy %.2f%%)", 100.0 * std::atof(acc.c_str()));
    description_ += buf;
  }
}

Predictor::~Predictor() = default;

std::string Predictor::model_description() const { return description_; }

std::vector<std::array<float, 10>> Predictor::classify(const std::vector<DigitInput>& inputs) {
  std::vector<std::array<float, 10>> out(inputs.size());
  if (inputs.empty()) return out;
  const int pixels = 28 * 28;
  std::vector<float> h(size_t(kMaxDigitsPerPass) * pixels);
  Buffer<float>&x = x_, &probs = probs_, &loss = loss_;
  Buffer<int32_t>& labels = labels_;
  for (size_t start = 0; start < inputs.size(); start += kMaxDigitsPerPass) {
    const int n = int(std::min(inputs.size() - start, size_t(kMaxDigitsPerPass)));
    for (int i = 0; i < n; ++i) std::copy(inputs[start + size_t(i)].pixels.begin(), inputs[start + size_t(i)].pixels.end(), h.begin() + long(i) * pixels);
    if (input_gain_ != 1.f)
      for (size_t k = 0; k < size_t(n) * pixels; ++k) h[k] *= input_gain_;
    backend_.upload(x.data(), h.data(), size_t(n) * pixels * sizeof(float));
    const float* logits = model_->forward(x.data(), n, false, 0);
    backend_.softmax_xent(n, 10, logits, labels.data(), probs.data(), loss.data(), nullptr, 0.f);
    backend_.download(out[start].data(), probs.data(), size_t(n) * 10 * sizeof(float));
  }
  return out;
}

Prediction Predictor::predict(const GrayImage& img, const PreprocessOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  Prediction p;
  Preprocessed pre = preprocess(img, opt);
  p.empty = pre.empty || pre.digits.empty();
  if (!p.empty) {
    const auto probs = classify(pre.digits);
    for (size_t i = 0; i < probs.size(); ++i) {
      DigitPrediction d;
      d.probs = probs[i];
      d.digit = 0;
      for (int k = 1; k < 10; ++k)
        if (d.probs[size_t(k)] > d.probs[size_t(d.digit)]) d.digit = k;
      d.confidence = d.probs[size_t(d.digit)];
      d.input = pre.digits[i];
      p.text += char('0' + d.digit);
      p.digits.push_back(d);
    }
  }
  p.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return p;
}

std::string default_model_path() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("DIGITS_MODEL"); env && *env) {
    DIGITS_CHECK(fs::exists(env), "DIGITS_MODEL=" << env << ": no such file");
    return env;
  }
  const std::string rel = "data/models/default.safetensors";
  std::vector<fs::path> candidates = {fs::path(rel)};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / ".." / rel);
    candidates.push_back(exe.parent_path() / ".." / ".." / rel);
    candidates.push_back(exe.parent_path() / ".." / "share" / "digits" / "models" / "default.safetensors");
  }
  candidates.push_back(fs::path(DIGITS_SOURCE_DIR) / rel);
  std::string looked;
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c, ec)) return fs::weakly_canonical(c, ec).string();
    looked += "\n  " + c.string();
  }
  DIGITS_FAIL("no bundled model found; looked in:" << looked
                                                   << "\ntrain one with `digits train --out data/models/default.safetensors`"
                                                      " or pass --model FILE (or set DIGITS_MODEL)");
}

}  // namespace digits
