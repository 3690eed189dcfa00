// The files a training run writes (checkpoints with optimizer state, the final model without) and reads
// back (--resume): their metadata, the resume point, and the check that an output can be written at all.
#pragma once

#include <cstdint>
#include <string>

#include "model.h"
#include "model_file.h"
#include "optimizer.h"
#include "train_config.h"

namespace digits {

// What every file of a run records besides the weights.
struct RunRecord {
  std::string preset;  // "custom" for a spec given by hand
  TrainConfig cfg;
  uint32_t dataset_crc = 0;
  std::string backend;  // the backend's name
};

// Where a run stands after a number of epochs.
struct RunPosition {
  int epoch = 0;
  int64_t step = 0;
  double test_accuracy = 0;
};

// Writes `path` atomically: the model's weights, and with `state` the optimizer's (a checkpoint), plus the
// metadata (spec, preset, train_config, data set CRC, test accuracy, input scale, epoch, step, backend).
// A final model (no state) records the recipe without `--max-steps`, a checkpoint with it (--resume keeps it).
void save_training_file(const std::string& path, const RunRecord& run, const RunPosition& at, const Model& model,
                        const Optimizer* state);

// What save_training_file writes, as a ModelFile to add to (a fine-tuned model's extra metadata).
ModelFile training_file(const RunRecord& run, const RunPosition& at, const Model& model, const Optimizer* state);

// The metadata text of an input scale: "0.00392156862745098" for 1/255, as every file so far says.
std::string input_scale_text(float scale);

// A checkpoint read back for --resume.
struct ResumePoint {
  ModelFile file;  // weights and optimizer state
  NetSpec spec;
  std::string preset;
  TrainConfig cfg;
  RunPosition at;
};
// Throws digits::Error naming `path` when it is not a checkpoint, its metadata is corrupt, or it was
// trained on another data set than the one with `dataset_crc`.
ResumePoint read_checkpoint(const std::string& path, uint32_t dataset_crc);

// Fails before training when `path` cannot be written (missing or read-only directory, disk full). `what`
// names the option in the message ("--out"). An empty path is fine (nothing to write).
void check_writable(const std::string& path, const char* what);

}  // namespace digits
