// The one inference entry point for the CLI, the GUI and the tests: loads a model file onto a backend,
// preprocesses images like MNIST, and returns per-digit probabilities.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "preprocess.h"

namespace digits {

class Model;

struct DigitPrediction {
  int digit = -1;                 // argmax
  float confidence = 0.f;         // probs[digit]
  std::array<float, 10> probs{};  // softmax
  DigitInput input;               // the 28x28 image the network saw, and its box in the source
};

struct Prediction {
  bool empty = true;                    // "no digit"
  std::vector<DigitPrediction> digits;  // left to right
  std::string text;                     // e.g. "2024"; empty when `empty`
  double milliseconds = 0;              // preprocess + inference
};

class Predictor {
 public:
  // Loads model_path (throws digits::Error on a missing or invalid file) onto `backend`, which must outlive it.
  Predictor(Backend& backend, const std::string& model_path);
  ~Predictor();
  Predictor(const Predictor&) = delete;
  Predictor& operator=(const Predictor&) = delete;

  Prediction predict(const GrayImage& img, const PreprocessOptions& opt = {});
  // Probabilities (n, 10) for n already-prepared 28x28 inputs in [0, 1] (white on black, 1 for pixel 255),
  // fed to the network as pixel * the model file's input scale.
  std::vector<std::array<float, 10>> classify(const std::vector<DigitInput>& inputs);

  const std::string& model_path() const { return model_path_; }
  std::string model_description() const;  // preset and test accuracy from the file's metadata
  Backend& backend() { return backend_; }

 private:
  Backend& backend_;
  std::string model_path_;
  std::unique_ptr<Model> model_;
  std::string description_;
  float input_gain_ = 1.f;  // network input = preprocessed value * gain = (value * 255) * input scale
  Buffer<float> x_, probs_, loss_;
  Buffer<int32_t> labels_;
};

// The bundled default model: $DIGITS_MODEL, else data/models/default.safetensors next to the executable's
// source tree or the current directory. Throws with a hint when none is found.
std::string default_model_path();

}  // namespace digits
