// digits eval: accuracy, per-class accuracy and the confusion matrix of a model on the MNIST test set;
// optionally writes the confusion matrix (CSV / JSON) and a PNG grid of the misread test digits.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "common.h"
#include "error.h"
#include "eval_report.h"
#include "model.h"
#include "predictor.h"
#include "trainer.h"

namespace digits::cli {

namespace {

struct EvalArgs {
  Common common;
  std::string model;
  int batch = 500;
  std::string confusion;  // --confusion FILE.csv|FILE.json
  std::string misread;    // --misread FILE.png
  int misread_max = kGridDefaultMax;
  std::string report;     // --report DIR: DIR/confusion.csv + DIR/misread.png
  std::string probabilities;  // --probabilities FILE.csv: every test image's ten probabilities
  bool misread_max_given = false;
};

// The files to write, checked (format, directory, writability) before any work is done.
struct Outputs {
  std::vector<std::string> confusion, misread, probabilities;
};

Outputs plan_outputs(const EvalArgs& a) {
  namespace fs = std::filesystem;
  Outputs o;
  // Usage errors first: nothing is created when the command line is wrong.
  DIGITS_CHECK(!a.misread_max_given || !a.misread.empty() || !a.report.empty(),
               "--misread-max needs --misread FILE.png or --report DIR");
  if (!a.confusion.empty()) confusion_format(a.confusion);  // throws for an unknown extension
  if (!a.misread.empty()) check_png_path(a.misread, "--misread");
  // --report's directory next, so that --confusion and --misread may name files inside it.
  std::string report_confusion, report_misread;
  if (!a.report.empty()) {
    std::error_code ec;
    DIGITS_CHECK(!fs::exists(a.report, ec) || fs::is_directory(a.report, ec),
                 "--report " << a.report << ": exists and is not a directory");
    fs::create_directories(a.report, ec);
    DIGITS_CHECK(!ec, "--report " << a.report << ": cannot create the directory: " << ec.message());
    report_confusion = (fs::path(a.report) / "confusion.csv").string();
    report_misread = (fs::path(a.report) / "misread.png").string();
  }
  if (!a.confusion.empty()) {
    check_output_writable(a.confusion, "--confusion");
    o.confusion.push_back(a.confusion);
  }
  if (!a.misread.empty()) {
    check_output_writable(a.misread, "--misread");
    o.misread.push_back(a.misread);
  }
  if (!a.probabilities.empty()) {
    check_output_writable(a.probabilities, "--probabilities");
    o.probabilities.push_back(a.probabilities);
  }
  if (!a.report.empty()) {
    check_output_writable(report_confusion, "--report");
    check_output_writable(report_misread, "--report");
    o.confusion.push_back(report_confusion);
    o.misread.push_back(report_misread);
  }
  return o;
}

// Writes the planned files; one "wrote ..." line each to `log`. Returns their description for --json.
nlohmann::json write_outputs(const Outputs& o, const EvalResult& r, const Dataset& test, int misread_max,
                             std::ostream& log) {
  nlohmann::json written = nlohmann::json::array();
  for (const std::string& path : o.confusion) {
    write_confusion(path, r);
    log << "wrote " << path << " (confusion matrix, rows: true digit, columns: predicted)\n";
    written.push_back({{"kind", "confusion"}, {"path", path}});
  }
  for (const std::string& path : o.probabilities) {
    write_probabilities(path, test, r);
    log << "wrote " << path << " (" << r.count << " test images: index, label, predicted, p0..p9)\n";
    written.push_back({{"kind", "probabilities"}, {"path", path}});
  }
  if (!o.misread.empty()) {
    const MisreadGrid g = misread_grid(test, r, misread_max);
    for (const std::string& path : o.misread) {
      save_png_rgb(path, g.image);
      log << "wrote " << path << " (" << g.shown.size() << " of " << g.total
          << " misread digits, most confident first)\n";
      written.push_back({{"kind", "misread"}, {"path", path}, {"shown", g.shown.size()}, {"misread", g.total}});
    }
  }
  return written;
}

void run_eval(const EvalArgs& a) {
  const Outputs outputs = plan_outputs(a);
  const std::string path = a.model.empty() ? default_model_path() : a.model;
  BackendChoice be = choose_backend(a.common);
  const Dataset data = load_test_data(a.common);
  auto model = load_model(*be.backend, path, a.batch);
  ResidentData test(*be.backend, data);
  const EvalResult r = evaluate(*model, test, data);
  if (a.common.json) {
    // stdout stays one JSON document: the "wrote" lines go to stderr.
    const nlohmann::json written = write_outputs(outputs, r, data, a.misread_max, std::cerr);
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
    j["misread"] = r.count - r.correct;
    j["written"] = written;
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
  if (!outputs.confusion.empty() || !outputs.misread.empty() || !outputs.probabilities.empty()) {
    std::cout << "\n";
    write_outputs(outputs, r, data, a.misread_max, std::cout);
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
  cmd->add_option("--confusion", a->confusion, "write the confusion matrix to FILE (.csv or .json)")
      ->type_name("FILE");
  cmd->add_option("--misread", a->misread, "write a PNG grid of the misread test digits to FILE.png")
      ->type_name("FILE.png");
  CLI::Option* max = cmd->add_option("--misread-max", a->misread_max,
                                     "most misread digits in the grid, most confident first (default 200)")
                         ->check(CLI::Range(0, 10000))
                         ->type_name("N");
  cmd->add_option("--report", a->report, "write DIR/confusion.csv and DIR/misread.png (creates DIR)")
      ->type_name("DIR");
  cmd->add_option("--probabilities", a->probabilities,
                  "write every test image's ten probabilities to FILE (CSV: index,label,predicted,p0..p9)")
      ->type_name("FILE.csv");
  cmd->add_flag("--json", a->common.json, "print the result as JSON");
  cmd->callback([a, max] {
    a->misread_max_given = max->count() > 0;
    run_eval(*a);
  });
}

}  // namespace digits::cli
