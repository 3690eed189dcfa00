// digits predict: read digits in PNG/JPEG/PGM files (or '-' for stdin) through the MNIST-style preprocessing.
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common.h"
#include "image_io.h"
#include "predictor.h"

namespace digits::cli {

namespace {

struct PredictArgs {
  Common common;
  std::string model;
  std::vector<std::string> files;
  bool single = false;
};

void run_predict(const PredictArgs& a) {
  BackendChoice be = choose_backend(a.common);
  Predictor predictor(*be.backend, a.model.empty() ? default_model_path() : a.model);
  PreprocessOptions popt;
  popt.multi_digit = !a.single;
  for (const auto& f : a.files) {
    const Prediction p = predictor.predict(load_image(f), popt);
    if (a.common.json) {
      nlohmann::json j;
      j["file"] = f;
      j["empty"] = p.empty;
      j["digits"] = p.text;
      j["ms"] = p.milliseconds;
      j["predictions"] = nlohmann::json::array();
      for (const auto& d : p.digits)
        j["predictions"].push_back({{"digit", d.digit}, {"confidence", d.confidence}, {"probs", d.probs},
                                    {"box", {d.input.x0, d.input.y0, d.input.x1, d.input.y1}}});
      std::cout << j.dump() << "\n";
      continue;
    }
    if (p.empty) {
      std::cout << f << ": no digit\n";
      continue;
    }
    std::cout << f << ": " << p.text << "  (";
    for (size_t i = 0; i < p.digits.size(); ++i)
      std::cout << (i ? ", " : "") << p.digits[i].digit << " " << std::fixed << std::setprecision(1)
                << 100 * p.digits[i].confidence << "%";
    std::cout << ")\n";
    if (p.digits.size() == 1) {
      std::cout << "  probabilities:";
      for (int k = 0; k < 10; ++k) std::cout << "  " << k << ":" << std::setprecision(3) << p.digits[0].probs[size_t(k)];
      std::cout << "\n";
    }
  }
}

}  // namespace

void register_predict(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "read the digits in image files (PNG, JPEG, PGM; '-' = stdin)");
  add_device_flags(cmd, a->common);
  cmd->add_option("--model", a->model, "model file (default: the bundled model)");
  cmd->add_flag("--single", a->single, "treat each image as one digit (no segmentation)");
  cmd->add_flag("--json", a->common.json, "one JSON line per file");
  cmd->add_option("files", a->files, "image files")->required();
  cmd->callback([a] { run_predict(*a); });
}

}  // namespace digits::cli
