// A person's own labelled digits, kept to fine-tune a model on them: one folder per digit, DIR/0/ to DIR/9/
// (the image-folder convention of torchvision and Keras), by default under the XDG data folder. The window
// adds canvases to it (atomically, with undo); `digits finetune` reads it back, PNG, JPEG or PGM, through
// the same preprocessing as `digits predict`.
#pragma once

#include <array>
#include <iosfwd>
#include <string>
#include <vector>

#include "image_io.h"
#include "mnist_idx.h"

namespace digits {

// $XDG_DATA_HOME/digits, else $HOME/.local/share/digits (the XDG base-directory default). Throws when
// neither variable is set. Nothing is created.
std::string user_data_dir();
std::string default_samples_dir();         // user_data_dir()/samples
std::string default_personal_model_path();  // user_data_dir()/models/personal.safetensors

// The label of a folder name: "0".."9" gives 0..9, anything else -1 (a folder "10", "a" or "07" is no digit).
int digit_of_folder(const std::string& name);
// True for a name ending in .png, .jpg, .jpeg or .pgm (any case) that is not hidden and not a temporary of
// an unfinished save ("<name>.tmp.<pid>.<n>" does not end in an image extension).
bool is_sample_file(const std::string& name);

struct SampleFile {
  std::string path;
  int digit = 0;
};

class SampleStore {
 public:
  // The store in `dir` (created on the first add; reading a missing one lists nothing).
  explicit SampleStore(std::string dir);
  const std::string& dir() const { return dir_; }

  // Saves `canvas` as a new PNG in dir/<digit>/ (atomically: a reader never sees part of it) and returns
  // its path. Throws for a digit outside 0..9, an empty image, or a folder that cannot be written.
  std::string add(int digit, const GrayImage& canvas);
  // Removes the sample this store added last and not yet undone (earlier adds on further calls). Returns
  // its path, or "" when this store has added nothing left to undo. A file already gone counts as undone.
  std::string undo();

  // Every sample file, by digit, then by name (so the order of adds: names are time stamps).
  std::vector<SampleFile> list() const;
  std::array<int, 10> counts() const;  // per digit
  int total() const;

 private:
  std::string dir_;
  std::vector<std::string> added_;  // this store's adds, oldest first (the undo stack)
};

// Samples decoded and preprocessed as `digits predict --single` reads an image (all ink as one digit):
// 28x28 uint8 images (255 = ink) with their labels, in list() order.
struct LoadedSamples {
  Dataset data;
  std::vector<std::string> paths;    // per image
  std::vector<std::string> skipped;  // "<path>: <why>" for each file that could not be used
};

// Reads every sample file of `dir`. A file that cannot be decoded or holds no ink is skipped, with one
// warning line naming it on `warn`. Throws when `dir` is missing or not a folder, or when nothing usable is
// left, with what to do (draw digits and correct them in the window, or put images in DIR/0 .. DIR/9).
LoadedSamples load_samples(const std::string& dir, std::ostream& warn);

}  // namespace digits
