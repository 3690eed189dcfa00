// digits finetune: fine-tune a model on a person's samples (DIR/0 .. DIR/9) with MNIST replay, print the
// accuracy before and after (held-back samples, MNIST test, --check DIR), save the personal model.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "common.h"
#include "error.h"
#include "finetune.h"
#include "predictor.h"
#include "sample_store.h"

namespace digits::cli {

namespace {

struct FinetuneArgs {
  Common common;
  std::string model, samples, out, check;
  FinetuneOptions opt;
};

std::string percent(double a) {
  if (a < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * a);
  return buf;
}

void print_line(const char* what, const Accuracy& a, bool show_misread = true) {
  if (a.count == 0) return;
  std::cout << std::left << std::setw(22) << what << std::right << std::setw(6) << a.count << " images  "
            << std::setw(7) << percent(a.before) << " -> " << std::setw(7) << percent(a.after);
  if (show_misread && !a.misread.empty()) std::cout << "  still misread: " << describe(a.misread);
  std::cout << "\n";
}

nlohmann::json accuracy_json(const Accuracy& a) {
  if (a.count == 0) return nullptr;
  nlohmann::json misread = nlohmann::json::array();
  for (const Misread& m : a.misread) misread.push_back({{"truth", m.truth}, {"read", m.read}, {"count", m.count}});
  return {{"count", a.count}, {"before", a.before}, {"after", a.after}, {"misread", misread}};
}

void report(const FinetuneArgs& a, const std::string& out, const LoadedSamples& s, const FinetuneResult& r) {
  if (a.common.json) {
    nlohmann::json j = {{"model", out},          {"samples", s.data.count},          {"skipped", s.skipped.size()},
                        {"trained_on", r.trained_on}, {"held_back", accuracy_json(r.held_back)},
                        {"mnist_test", accuracy_json(r.mnist_test)}, {"check", accuracy_json(r.check)},
                        {"steps", r.steps},      {"seconds", r.seconds},            {"cpu_seconds", r.cpu_seconds},
                        {"out_of_time", r.out_of_time}};
    std::cout << j.dump() << "\n";
    return;
  }
  std::cout << "accuracy              images   before -> after\n";
  print_line("held-back samples", r.held_back);
  print_line("MNIST test", r.mnist_test, false);
  print_line(("--check " + a.check).c_str(), r.check);
  if (r.held_back.count == 0) std::cout << "(no samples held back: --holdout 0, or one sample per digit)\n";
  // What the user's own writing still shows misread (else --check's): the digits to give more samples of.
  const std::string more = digits_to_add(r.held_back.count > 0 ? r.held_back.misread : r.check.misread);
  if (!more.empty()) std::cout << "more samples of " << more << " would help: add them and fine-tune again\n";
  std::cout << "fine-tuned on " << r.trained_on << " samples in " << std::fixed << std::setprecision(1) << r.seconds
            << " s (CPU time " << r.cpu_seconds << " s, " << r.steps << " steps"
            << (r.out_of_time ? ", stopped by --seconds" : "") << ") -> " << out << "\n";
}

// One line redrawn on a terminal, else nothing until the result.
std::function<void(const FinetuneProgress&)> progress_line() {
  if (!::isatty(STDERR_FILENO)) return nullptr;
  return [](const FinetuneProgress& p) {
    std::fprintf(stderr, "\rfine-tuning: step %d/%d, loss %.3f, %.1f s%s", p.step, p.steps, p.loss, p.seconds,
                 p.step == p.steps ? "\n" : "");
  };
}

void run_finetune(FinetuneArgs& a) {
  const std::string base = a.model.empty() ? default_model_path() : a.model;
  const std::string samples_dir = a.samples.empty() ? default_samples_dir() : a.samples;
  const std::string out = a.out.empty() ? default_personal_model_path() : a.out;
  a.opt.validate();
  if (a.out.empty()) std::filesystem::create_directories(std::filesystem::path(out).parent_path());
  check_personal_out(out, base);  // before any work
  const LoadedSamples samples = load_samples(samples_dir, std::cerr);
  std::optional<LoadedSamples> check;
  if (!a.check.empty()) check = load_samples(a.check, std::cerr);
  std::cerr << "samples: " << samples_dir << " (" << samples.data.count << " images"
            << (samples.skipped.empty() ? "" : ", " + std::to_string(samples.skipped.size()) + " skipped") << ")\n";
  BackendChoice be = choose_backend(a.common);
  std::string why;
  const std::optional<Mnist> mnist = find_replay_mnist(a.common.data, &why);
  if (mnist)
    print_data_line(*mnist);
  else
    std::cerr << "warning: MNIST not found, so no replay (MNIST accuracy may drop) and no MNIST accuracy: " << why
              << "\n";
  a.opt.on_progress = progress_line();
  const FinetuneData data{&samples.data, mnist ? &*mnist : nullptr, check ? &check->data : nullptr};
  const FinetuneResult r = finetune(*be.backend, base, data, a.opt, out);
  report(a, out, samples, r);
}

}  // namespace

void register_finetune(CLI::App& app) {
  auto a = std::make_shared<FinetuneArgs>();
  CLI::App* cmd = app.add_subcommand("finetune", "fine-tune a model on your own samples (DIR/0 .. DIR/9) and save it");
  add_device_flags(cmd, a->common);
  add_data_flag(cmd, a->common);
  cmd->add_option("--model", a->model, "base model (default: the bundled model)");
  cmd->add_option("--samples", a->samples,
                  "folder with one folder per digit, DIR/0 .. DIR/9, of PNG/JPEG/PGM images "
                  "(default: $XDG_DATA_HOME/digits/samples, else ~/.local/share/digits/samples)");
  cmd->add_option("--out", a->out,
                  "personal model to write (default: ~/.local/share/digits/models/personal.safetensors; never a "
                  "bundled model or the base)");
  cmd->add_option("--epochs", a->opt.epochs, "passes over the samples")->capture_default_str();
  cmd->add_option("--seconds", a->opt.seconds, "stop training after this many seconds (0: no limit)");
  cmd->add_option("--holdout", a->opt.holdout, "fraction of each digit's samples held back to measure on")
      ->capture_default_str();
  cmd->add_option("--batch", a->opt.batch, "images per step")->capture_default_str();
  cmd->add_option("--replay", a->opt.replay, "fraction of each batch that is MNIST (replayed so its accuracy holds)")
      ->capture_default_str();
  cmd->add_option("--lr", a->opt.lr, "Adam learning rate (warm-up, then cosine decay)")->capture_default_str();
  cmd->add_flag_function(
      "--stroke-widths,!--no-stroke-widths", [a](int64_t v) { a->opt.stroke_widths = v > 0; },
      "train on each sample as it is or with its strokes 1 px thinner or thicker, drawn at random each "
      "time (default: on)");
  cmd->add_option("--dense-lr-scale", a->opt.dense_lr_scale,
                  "the dense layers learn at this many times --lr (the convolutions at --lr)")
      ->capture_default_str();
  cmd->add_option("--check", a->check, "also measure before and after on the labelled images in DIR/0 .. DIR/9")
      ->type_name("DIR");
  cmd->add_option("--seed", a->opt.seed, "random seed (split, batches, augmentation)")->capture_default_str();
  cmd->add_flag("--json", a->common.json, "print the result as JSON on stdout");
  cmd->callback([a] { run_finetune(*a); });
}

}  // namespace digits::cli
