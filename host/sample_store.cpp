// The personal sample store: folder layout, adding and undoing samples, and reading them back preprocessed.
#include "sample_store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <ostream>

#include "error.h"
#include "preprocess.h"

namespace digits {

namespace fs = std::filesystem;

// ---- where ---------------------------------------------------------------------------------------------
std::string user_data_dir() {
  // The XDG base-directory rules: a relative $XDG_DATA_HOME is invalid and ignored.
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x && fs::path(x).is_absolute())
    return (fs::path(x) / "digits").string();
  const char* home = std::getenv("HOME");
  DIGITS_CHECK(home && *home, "neither XDG_DATA_HOME nor HOME is set: give the folder with --samples / --out");
  return (fs::path(home) / ".local" / "share" / "digits").string();
}

std::string default_samples_dir() { return (fs::path(user_data_dir()) / "samples").string(); }

std::string default_personal_model_path() {
  return (fs::path(user_data_dir()) / "models" / "personal.safetensors").string();
}

int digit_of_folder(const std::string& name) {
  return name.size() == 1 && name[0] >= '0' && name[0] <= '9' ? name[0] - '0' : -1;
}

bool is_sample_file(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".pgm";
}

// ---- adding and undoing -------------------------------------------------------------------------------
SampleStore::SampleStore(std::string dir) : dir_(std::move(dir)) {}

namespace {

// "20261202-054512-123-<pid>": UTC time to the millisecond and the process, so names sort by time and two
// windows never pick the same one; "-2", "-3", ... when this process adds twice in a millisecond.
std::string new_sample_name(const fs::path& folder) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const long ms = long(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d%02d%02d-%02d%02d%02d-%03ld-%ld", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms, long(::getpid()));
  std::string name = std::string(stamp) + ".png";
  for (int n = 2; fs::exists(folder / name); ++n) name = std::string(stamp) + "-" + std::to_string(n) + ".png";
  return name;
}

}  // namespace

std::string SampleStore::add(int digit, const GrayImage& canvas) {
  DIGITS_CHECK(digit >= 0 && digit <= 9, "a sample's label must be a digit 0..9, not " << digit);
  DIGITS_CHECK(canvas.width > 0 && canvas.height > 0, "an empty image cannot be a sample of " << digit);
  const fs::path folder = fs::path(dir_) / std::to_string(digit);
  std::error_code ec;
  fs::create_directories(folder, ec);
  DIGITS_CHECK(!ec, folder.string() << ": cannot create the sample folder: " << ec.message());
  const std::string path = (folder / new_sample_name(folder)).string();
  save_png(path, canvas);
  added_.push_back(path);
  return path;
}

std::string SampleStore::undo() {
  if (added_.empty()) return "";
  const std::string path = added_.back();
  std::error_code ec;
  fs::remove(path, ec);  // false without an error when it is already gone
  DIGITS_CHECK(!ec, path << ": cannot remove the sample: " << ec.message());
  added_.pop_back();
  return path;
}

// ---- listing and reading ------------------------------------------------------------------------------
std::vector<SampleFile> SampleStore::list() const {
  std::vector<SampleFile> out;
  std::error_code ec;
  for (int d = 0; d <= 9; ++d) {
    const fs::path folder = fs::path(dir_) / std::to_string(d);
    if (!fs::is_directory(folder, ec)) continue;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(folder, ec))
      if (is_sample_file(e.path().filename().string()) && !e.is_directory(ec)) names.push_back(e.path().string());
    std::sort(names.begin(), names.end());
    for (auto& n : names) out.push_back({std::move(n), d});
  }
  return out;
}

std::array<int, 10> SampleStore::counts() const {
  std::array<int, 10> c{};
  for (const auto& s : list()) c[size_t(s.digit)]++;
  return c;
}

int SampleStore::total() const { return int(list().size()); }

namespace {

// Folders in `dir` that are not a digit: told once, so a misnamed folder ("seven", "07") is not silently lost.
void warn_other_folders(const std::string& dir, std::ostream& warn) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory(ec) && digit_of_folder(e.path().filename().string()) < 0 &&
        e.path().filename().string()[0] != '.')
      warn << "warning: " << e.path().string() << ": not a digit folder (0 to 9): skipped\n";
}

// The 28x28 image of one sample file, as uint8 (255 = ink), or the reason it cannot be used.
std::string read_sample(const std::string& path, uint8_t* out) {
  Preprocessed p;
  try {
    PreprocessOptions opt;
    opt.multi_digit = false;  // a sample is one digit, as `digits predict --single` reads it
    p = preprocess(load_image(path), opt);
  } catch (const Error& e) {
    return e.what();
  }
  if (p.empty || p.digits.empty()) return path + ": no digit in it (an empty or almost empty drawing)";
  for (size_t k = 0; k < 28 * 28; ++k)
    out[k] = uint8_t(std::lround(std::clamp(p.digits[0].pixels[k], 0.f, 1.f) * 255.f));
  return "";
}

}  // namespace

LoadedSamples load_samples(const std::string& dir, std::ostream& warn) {
  std::error_code ec;
  DIGITS_CHECK(fs::is_directory(dir, ec), "samples " << dir << ": no such folder; correct digits in the window "
                                                        "(digits-gui) to make it, or give --samples DIR with one "
                                                        "folder per digit, DIR/0 to DIR/9, of PNG, JPEG or PGM images");
  warn_other_folders(dir, warn);
  const std::vector<SampleFile> files = SampleStore(dir).list();
  LoadedSamples s;
  s.data.rows = s.data.cols = 28;
  std::vector<uint8_t> img(28 * 28);
  for (const auto& f : files) {
    const std::string why = read_sample(f.path, img.data());
    if (!why.empty()) {
      warn << "warning: skipped " << why << "\n";
      s.skipped.push_back(why);
      continue;
    }
    s.data.images.insert(s.data.images.end(), img.begin(), img.end());
    s.data.labels.push_back(uint8_t(f.digit));
    s.paths.push_back(f.path);
  }
  s.data.count = int(s.paths.size());
  DIGITS_CHECK(s.data.count > 0, "samples " << dir << ": no usable samples ("
                                            << (files.empty() ? "no images" : std::to_string(files.size()) + " unreadable")
                                            << "); correct misread digits in the window (digits-gui) to collect "
                                               "some, or put images of each digit in "
                                            << dir << "/0 to " << dir << "/9 (PNG, JPEG or PGM)");
  return s;
}

}  // namespace digits
