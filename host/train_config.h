// The training configuration: one type, parsed and validated once, serialised once (the `train_config`
// metadata of every file `digits train` writes), and the presets that name a network and its recipe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "shapes.h"

namespace digits {

enum class OptimizerKind { Adadelta, Sgd, Adam };
enum class Schedule { Constant, Cosine };  // Cosine: linear warm-up, then cosine decay to 0

// Names as on the command line and in model files ("adadelta", "sgd", "adam"; "constant", "cosine").
// The parsers throw digits::Error listing the valid names.
const char* to_string(OptimizerKind k);
const char* to_string(Schedule s);
OptimizerKind parse_optimizer(const std::string& name);
Schedule parse_schedule(const std::string& name);
std::vector<std::string> optimizer_names();
std::vector<std::string> schedule_names();
// The learning rate an optimizer starts from when none is given: Adadelta 1.0 (Keras), SGD 0.01, Adam 1e-3.
float default_lr(OptimizerKind k);

// The augmentation `--augment` turns on (and the `best` preset uses): small rotations, zoom, shear and
// shifts plus a gentle elastic warp, all within what a hand-drawn digit varies by.
inline constexpr AugmentParams kDefaultAugment{12.f, 0.12f, 0.15f, 2.5f, 1.2f};

struct TrainConfig {
  int epochs = 10;
  int batch = 128;
  OptimizerKind optimizer = OptimizerKind::Adadelta;
  float lr = 1.0f;
  float momentum = 0.9f;  // sgd
  uint64_t seed = 1;
  Schedule schedule = Schedule::Constant;
  float warmup = 0.f;    // cosine: epochs of linear warm-up from lr/10
  bool augment = false;  // random affine + elastic augmentation of every training batch
  AugmentParams augment_params = kDefaultAugment;
  int val = 0;                  // hold out the last `val` training images for validation (never trained on)
  int max_steps_per_epoch = 0;  // > 0: shorten every epoch to this many steps (`--max-steps`: smoke runs, tests)

  // Throws digits::Error naming the first setting out of range and its valid range.
  void validate() const;
  // One JSON object. The keys and value formats are those of every model file written so far (the
  // optimizer and schedule as their names); max_steps_per_epoch is written only when > 0.
  std::string to_json() const;
  // Parses and validates to_json()'s text; keys added after the first release may be absent (their
  // defaults apply). Throws digits::Error "<path>: bad train_config in metadata: ...".
  static TrainConfig from_json(const std::string& text, const std::string& path_for_errors);
};

struct Preset {
  std::string name, spec, description;
  TrainConfig train;
};
const std::vector<Preset>& presets();
const Preset& find_preset(const std::string& name);  // throws listing the known presets

}  // namespace digits
