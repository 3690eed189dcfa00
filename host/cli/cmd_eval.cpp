// digits eval: accuracy, per-class accuracy and the confusion matrix of a model on the MNIST test set.
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common.h"
#include "model.h"
#include "predictor.h"
#include "trainer.h"

namespace digits::cli {

namespace {

struct EvalArgs {
  Common common;
  std::string model;
  int batch = 500;
};

void run_eval(const EvalArgs& a) {
  const std::string path = a.model.empty() ? default_model_path() : a.model;
  BackendChoice be = choose_backend(a.common);
  const Mnist data = load_data(a.common);
  auto model = load_model(*be.backend, path, a.batch);
  ResidentData test(*be.backend, data.test);
  const EvalResult r = evaluate(*model, test, data.test);
  if (a.common.json) {
    nlohmann::json j;
    j["model"] = path;
    j["backend"] = be.backend->name();
    j["count"] = r.count;
    j["correct"] = r.correct;
    j["accuracy"] = r.accuracy();
    j["loss"] = r.loss;
    for (int t = 0; t < 10; ++t) {
      int total = 0;
      for (int p = 0; p < 10; ++p) total += r.confusion[size_t(t)][size_t(p)];
      j["per_class_accuracy"].push_back(total ? double(r.confusion[size_t(t)][size_t(t)]) / total : 0.0);
      j["confusion"].push_back(r.confusion[size_t(t)]);
    }
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "model " << path << "\n"
            << "accuracy " << std::fixed << std::setprecision(2) << 100 * r.accuracy() << "% (" << r.correct << "/"
            << r.count << "), loss " << std::setprecision(4) << r.loss << "\n\nclass  accuracy   count\n";
  for (int t = 0; t < 10; ++t) {
    int total = 0;
    for (int p = 0; p < 10; ++p) total += r.confusion[size_t(t)][size_t(p)];
    std::cout << "  " << t << "    " << std::setw(7) << std::setprecision(2)
              << (total ? 100.0 * r.confusion[size_t(t)][size_t(t)] / total : 0.0) << "%  " << std::setw(6) << total << "\n";
  }
  std::cout << "\nconfusion matrix (rows: true digit, columns: predicted)\n     ";
  for (int p = 0; p < 10; ++p) std::cout << std::setw(6) << p;
  std::cout << "\n";
  for (int t = 0; t < 10; ++t) {
    std::cout << "  " << t << "  ";
    for (int p = 0; p < 10; ++p) std::cout << std::setw(6) << r.confusion[size_t(t)][size_t(p)];
    std::cout << "\n";
  }
}

}  // namespace

void register_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "accuracy, per-class accuracy and confusion matrix on the MNIST test set");
  add_device_flags(cmd, a->common);
  add_data_flag(cmd, a->common);
  cmd->add_option("--model", a->model, "model file (default: the bundled model)");
  cmd->add_option("--batch", a->batch, "images per forward pass")->check(CLI::Range(1, 10000));
  cmd->add_flag("--json", a->common.json, "print the result as JSON");
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace digits::cli
