// digits train: preset or spec, hyper-parameters, checkpoints each epoch, --resume, progress bar.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common.h"
#include "error.h"
#include "model.h"
#include "progress.h"
#include "train_config.h"
#include "trainer.h"

namespace digits::cli {

namespace {

struct TrainArgs {
  Common common;
  std::string preset = "seed", spec, optimizer, out, checkpoint, resume, progress = "auto", schedule;
  int epochs = 0, batch = 0, max_steps = 0, val = -1;
  int augment = -1;  // -1: the preset's; 0: --no-augment; 1: --augment
  float lr = 0, momentum = -1, warmup = -1;
  int64_t seed = -1;
};

std::string default_checkpoint(const std::string& out) {
  std::filesystem::path p(out);
  if (p.extension() == ".safetensors") p.replace_extension();
  return p.string() + ".ckpt.safetensors";
}

void run_train(const TrainArgs& a) {
  const Preset& preset = find_preset(a.preset);
  TrainOptions opt;
  opt.preset = a.spec.empty() ? preset.name : "custom";
  opt.spec = NetSpec::parse(a.spec.empty() ? preset.spec : a.spec);
  opt.cfg = preset.train;
  if (a.epochs > 0) opt.cfg.epochs = a.epochs;
  else if (!a.resume.empty()) opt.cfg.epochs = 0;  // keep the checkpoint's
  if (a.batch > 0) opt.cfg.batch = a.batch;
  if (!a.optimizer.empty()) {
    opt.cfg.optimizer = parse_optimizer(a.optimizer);
    if (a.lr <= 0) opt.cfg.lr = default_lr(opt.cfg.optimizer);
  }
  if (a.lr > 0) opt.cfg.lr = a.lr;
  if (a.momentum >= 0) opt.cfg.momentum = a.momentum;
  if (a.seed >= 0) opt.cfg.seed = uint64_t(a.seed);
  if (!a.schedule.empty()) opt.cfg.schedule = parse_schedule(a.schedule);
  if (a.warmup >= 0) opt.cfg.warmup = a.warmup;
  if (a.augment >= 0) opt.cfg.augment = a.augment == 1;
  if (a.val >= 0) opt.cfg.val = a.val;
  opt.cfg.max_steps_per_epoch = a.max_steps;  // 0: the checkpoint's when resuming, else whole epochs
  opt.out = a.out.empty() ? (a.resume.empty() ? opt.preset + ".safetensors" : "") : a.out;
  if (opt.out.empty()) {  // resuming without --out: write next to the checkpoint
    std::string r = a.resume;
    const std::string suffix = ".ckpt.safetensors";
    opt.out = r.size() > suffix.size() && r.compare(r.size() - suffix.size(), suffix.size(), suffix) == 0
                  ? r.substr(0, r.size() - suffix.size()) + ".safetensors"
                  : r + ".final.safetensors";
  }
  opt.checkpoint = a.checkpoint == "none" ? "" : a.checkpoint.empty() ? default_checkpoint(opt.out) : a.checkpoint;
  opt.resume = a.resume;
  opt.progress_bar = a.progress == "bar" || (a.progress == "auto" && ::isatty(STDERR_FILENO));

  BackendChoice be = choose_backend(a.common);
  const Mnist data = load_data(a.common);
  const TrainResult r = train(*be.backend, data, opt);
  std::cerr << "saved " << opt.out << (opt.checkpoint.empty() ? "" : " (checkpoint " + opt.checkpoint + ")") << "\n";
  if (a.common.json) {
    nlohmann::json j;
    j["model"] = opt.out;
    j["backend"] = be.backend->name();
    j["test_accuracy"] = r.test_accuracy;
    j["spec"] = r.spec;
    j["train_config"] = nlohmann::json::parse(r.cfg.to_json());
    for (const auto& e : r.epochs) j["epochs"].push_back(epoch_json(e));
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "test accuracy " << 100 * r.test_accuracy << "% -> " << opt.out << "\n";
  }
}

}  // namespace

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "train a network on MNIST and save it (checkpoint every epoch)");
  add_device_flags(cmd, a->common);
  add_data_flag(cmd, a->common);
  std::string names;
  for (const auto& p : presets()) {
    if (!names.empty()) names += " | ";
    names += p.name;
  }
  cmd->add_option("--preset", a->preset, "network and schedule: " + names)->capture_default_str();
  cmd->add_option("--spec", a->spec, "custom network spec, e.g. \"conv(32,3) relu maxpool(2) flatten dense(10)\"");
  cmd->add_option("--epochs", a->epochs, "epochs (default: the preset's)")->check(CLI::Range(1, 100000));
  cmd->add_option("--batch", a->batch, "batch size (default: the preset's)")->check(CLI::Range(1, 65536));
  cmd->add_option("--optimizer", a->optimizer, "adadelta | sgd | adam")->check(CLI::IsMember(optimizer_names()));
  cmd->add_option("--lr", a->lr, "learning rate (default: the optimizer's)")->check(CLI::PositiveNumber);
  cmd->add_option("--momentum", a->momentum, "SGD momentum")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--schedule", a->schedule, "learning rate: constant | cosine (warm-up, then cosine decay to 0)")
      ->check(CLI::IsMember(schedule_names()));
  cmd->add_option("--warmup", a->warmup, "cosine: epochs of linear warm-up")->check(CLI::Range(0.0, 1000.0));
  cmd->add_flag_function(
      "--augment,!--no-augment", [a](int64_t v) { a->augment = v > 0 ? 1 : 0; },
      "random rotation, zoom, shear, shift and elastic warp of every training batch (default: the preset's; best: on)");
  cmd->add_option("--val", a->val, "hold out the last N training images for validation (default: the preset's)")
      ->check(CLI::Range(0, 59999));
  cmd->add_option("--seed", a->seed, "random seed (weights, shuffling, dropout)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", a->out, "model file to write (default: <preset>.safetensors)");
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint written each epoch (default: <out>.ckpt.safetensors; 'none')");
  cmd->add_option("--resume", a->resume, "continue from a checkpoint (same data, same result as an uninterrupted run)");
  cmd->add_option("--max-steps", a->max_steps,
                  "stop each epoch after N steps (smoke tests; kept in checkpoints, so --resume continues alike)")->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--progress", a->progress, "auto | bar | plain")->check(CLI::IsMember({"auto", "bar", "plain"}));
  // A value the backend choice reads (never the environment); the CPU path is always deterministic.
  cmd->add_flag("--deterministic", a->common.deterministic,
                "CUDA: only deterministic cuDNN algorithms, so a seed gives the same weights run to run "
                "(the CPU path always does, for any thread count)");
  cmd->add_flag("--json", a->common.json, "print the result as JSON on stdout");
  cmd->callback([a] { run_train(*a); });
}

}  // namespace digits::cli
