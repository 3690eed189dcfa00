// Crash safety of `digits train` on MNIST: the process is killed with SIGKILL at random moments (while
// loading, training, evaluating or writing a checkpoint), at least 20 times over several runs. After each
// kill the checkpoint on disk must load (load_model_file, then load_model with its spec) and be exactly
// the checkpoint of an epoch the uninterrupted run completed; then --resume carries on, and once a run
// finishes, its final weights must equal the uninterrupted run's bit for bit (CPU path), and no temporary
// file of a killed save is left: the next save of the same file removes it.
// Random but reproducible: the seed is printed; DIGITS_CRASH_SEED=<n> repeats a run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "model.h"
#include "model_file.h"
#include "testing/mnist_fixture.h"
#include "testing/run_cli.h"

namespace digits {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A small, fast network; short epochs so that several fit in a second and most kills land in training.
constexpr const char* kSpec = "conv(4,3) relu maxpool(2) flatten dense(10)";
constexpr int kEpochs = 6, kSteps = 40;
constexpr int kMinKills = 20;
constexpr double kBudgetSeconds = 100;  // stop starting new runs after this (the kill count is asserted)

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "digits_crash_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// `digits train` on MNIST into `out` (checkpoint: <out stem>.ckpt.safetensors), fresh or resumed.
// max-steps is not part of a checkpoint: a resumed run must be given it again.
std::vector<std::string> train_args(const std::string& data, const std::string& out, const std::string& resume) {
  std::vector<std::string> a = {"train", "--data", data, "--device", "cpu", "--threads", "1", "--progress", "plain",
                                "--max-steps", std::to_string(kSteps), "--out", out};
  if (resume.empty()) {
    for (const char* s : {"--spec", kSpec, "--batch", "64", "--seed", "7", "--epochs"}) a.push_back(s);
    a.push_back(std::to_string(kEpochs));
  } else {
    a.push_back("--resume");
    a.push_back(resume);
  }
  return a;
}

// Starts the built digits with these arguments, output to `log`; returns its pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) ::dup2(fd, 1), ::dup2(fd, 2);
    const std::string bin = testing::digits_binary();
    std::vector<char*> argv = {const_cast<char*>(bin.c_str())};
    for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Temporary files ("<file>.tmp.<pid>.<n>") beside the files whose names start with `prefix`.
std::vector<std::string> temporaries(const TempDir& dir, const std::string& prefix) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(fs::path(dir.file(prefix)).parent_path())) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name.find(".tmp.") != std::string::npos) found.push_back(name);
  }
  return found;
}

// The exit status as a shell reports it: the code, or 128 + signal.
int status_code(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

struct Checkpoint {
  int epoch = 0;
  std::string step;
  std::vector<NamedTensor> tensors;  // weights and optimizer state
};

Checkpoint read_checkpoint(const std::string& path) {
  const ModelFile f = load_model_file(path);
  Checkpoint c;
  c.epoch = std::stoi(f.metadata.at("epoch"));
  c.step = f.metadata.at("step");
  c.tensors = f.tensors;
  return c;
}

::testing::AssertionResult same_tensors(const std::vector<NamedTensor>& a, const std::vector<NamedTensor>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << a.size() << " vs " << b.size() << " tensors";
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].shape != b[i].shape || a[i].data.size() != b[i].data.size())
      return ::testing::AssertionFailure() << "tensor " << i << ": '" << a[i].name << "' vs '" << b[i].name << "'";
    if (!a[i].data.empty() && std::memcmp(a[i].data.data(), b[i].data.data(), 4 * a[i].data.size()) != 0)
      return ::testing::AssertionFailure() << "tensor '" << a[i].name << "' differs";
  }
  return ::testing::AssertionSuccess();
}

// The uninterrupted run: its final model, and every epoch's checkpoint, caught as the trainer renames
// each new one into place (a new inode; an open descriptor keeps that version readable even after the
// next rename). Returns false when an epoch went by unseen (a loaded machine), so the caller retries.
struct Reference {
  std::vector<NamedTensor> final_params;
  std::map<int, Checkpoint> epochs;
  double seconds = 0;
};

bool run_reference(const std::string& data, const TempDir& dir, Reference& ref) {
  const std::string out = dir.file("ref.safetensors"), ckpt = dir.file("ref.ckpt.safetensors");
  fs::remove(out), fs::remove(ckpt);
  ref.epochs.clear();
  const auto t0 = Clock::now();
  const pid_t pid = spawn(train_args(data, out, ""), dir.file("ref.log"));
  ino_t seen = 0;
  int st = 0;
  for (bool done = false; !done;) {
    done = ::waitpid(pid, &st, WNOHANG) == pid;  // after exit: one last look at the final checkpoint
    const int fd = ::open(ckpt.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat s {};
    if (fd >= 0 && ::fstat(fd, &s) == 0 && s.st_ino != seen) {
      seen = s.st_ino;
      Checkpoint c = read_checkpoint("/proc/self/fd/" + std::to_string(fd));
      ref.epochs[c.epoch] = std::move(c);
    }
    if (fd >= 0) ::close(fd);
    if (!done) std::this_thread::sleep_for(std::chrono::microseconds(300));
  }
  ref.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(status_code(st), 0) << read_text(dir.file("ref.log"));
  if (status_code(st) != 0) return false;
  ref.final_params = load_model_file(out).tensors;
  return int(ref.epochs.size()) == kEpochs;
}

TEST(CrashSafety, KilledTrainingAlwaysLeavesALoadableCheckpointAndResumesBitIdentically) {
  DIGITS_REQUIRE_MNIST(mnist);
  const std::string data = mnist->dir;
  TempDir dir;

  Reference ref;
  bool complete = false;
  for (int attempt = 0; attempt < 3 && !complete; ++attempt) complete = run_reference(data, dir, ref);
  ASSERT_TRUE(complete) << "could not catch every epoch's checkpoint of the reference run";
  // The final model's weights are the last checkpoint's weights (which also holds optimizer state).
  for (const NamedTensor& t : ref.final_params) {
    const auto& last = ref.epochs.at(kEpochs).tensors;
    auto it = std::find_if(last.begin(), last.end(), [&](const NamedTensor& c) { return c.name == t.name; });
    ASSERT_NE(it, last.end()) << t.name;
    EXPECT_TRUE(same_tensors({t}, {*it}));
  }

  const char* env_seed = std::getenv("DIGITS_CRASH_SEED");
  const uint64_t seed = env_seed ? std::strtoull(env_seed, nullptr, 10) : std::random_device{}();
  std::printf("crash safety: seed %llu (DIGITS_CRASH_SEED=%llu repeats it); reference run %.2f s\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), ref.seconds);
  std::mt19937_64 rng(seed);
  // Kill anywhere from the start to a little past where an uninterrupted run would end.
  std::uniform_real_distribution<double> when(0.0, 1.1 * ref.seconds);

  auto backend = make_cpu_backend(1);
  int kills = 0, finished_runs = 0, launches = 0, temporaries_left = 0;
  std::map<int, int> kills_after_epoch;  // the checkpoint's epoch at each kill (0: none yet)
  const auto t_start = Clock::now();
  for (int session = 0; kills < kMinKills || finished_runs < 2; ++session) {
    if (std::chrono::duration<double>(Clock::now() - t_start).count() > kBudgetSeconds) break;
    SCOPED_TRACE("session " + std::to_string(session));
    const std::string out = dir.file("s" + std::to_string(session) + ".safetensors"),
                      ckpt = dir.file("s" + std::to_string(session) + ".ckpt.safetensors"),
                      log = dir.file("s" + std::to_string(session) + ".log");
    int last_epoch = 0;
    for (;;) {
      const bool resume = fs::exists(ckpt);
      const pid_t pid = spawn(train_args(data, out, resume ? ckpt : ""), log);
      ++launches;
      const auto deadline = Clock::now() + std::chrono::duration<double>(when(rng));
      int st = 0;
      bool exited = false;
      while (!(exited = ::waitpid(pid, &st, WNOHANG) == pid) && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (exited) {  // it finished before its kill time
        ASSERT_EQ(status_code(st), 0) << (resume ? "resumed" : "fresh") << " run failed:\n" << read_text(log);
        break;
      }
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {  // it exited on its own in between
        ASSERT_EQ(status_code(st), 0) << read_text(log);
        break;
      }
      ++kills;
      temporaries_left += int(temporaries(dir, "s" + std::to_string(session) + ".").size());
      if (!fs::exists(ckpt)) {
        EXPECT_EQ(last_epoch, 0) << "the checkpoint disappeared after a kill";
        kills_after_epoch[0]++;
        continue;
      }
      // The checkpoint loads, as a file and as the model its spec describes, and is exactly one of the
      // reference's epochs: never a partial write, never older than the one before the kill.
      Checkpoint c;
      ASSERT_NO_THROW(c = read_checkpoint(ckpt)) << "kill " << kills << " left a broken checkpoint";
      ASSERT_NO_THROW(load_model(*backend, ckpt, 1)) << "kill " << kills;
      ASSERT_TRUE(ref.epochs.count(c.epoch)) << "checkpoint of epoch " << c.epoch << " after kill " << kills;
      EXPECT_GE(c.epoch, last_epoch) << "kill " << kills << " left an older checkpoint";
      EXPECT_EQ(c.step, ref.epochs.at(c.epoch).step);
      ASSERT_TRUE(same_tensors(c.tensors, ref.epochs.at(c.epoch).tensors))
          << "kill " << kills << ": epoch " << c.epoch << " checkpoint differs from the uninterrupted run's";
      last_epoch = c.epoch;
      kills_after_epoch[c.epoch]++;
      if (fs::exists(out)) {
        EXPECT_NO_THROW(load_model_file(out)) << "kill " << kills << " left a broken model";
      }
    }
    // Finished (possibly after several kills and resumes): the same weights as the uninterrupted run.
    ++finished_runs;
    std::vector<NamedTensor> got;
    ASSERT_NO_THROW(got = load_model_file(out).tensors) << read_text(log);
    EXPECT_TRUE(same_tensors(got, ref.final_params)) << "session " << session << ": final weights differ";
    // A kill during a save leaves its temporary; the next save of that file removed it.
    const auto left = temporaries(dir, "s" + std::to_string(session) + ".");
    EXPECT_TRUE(left.empty()) << "session " << session << " left " << left.size() << " temporaries, e.g. " << left[0];
  }
  std::string where;
  for (const auto& [epoch, n] : kills_after_epoch) where += " " + std::to_string(n) + "x@" + std::to_string(epoch);
  std::printf("crash safety: %d kills over %d launches, %d runs finished; kills by checkpoint epoch:%s; "
              "%d temporaries left by kills, all removed by later saves\n",
              kills, launches, finished_runs, where.c_str(), temporaries_left);
  EXPECT_GE(kills, kMinKills) << "ran out of time (" << kBudgetSeconds << " s) before " << kMinKills << " kills";
  EXPECT_GE(finished_runs, 2);
}

}  // namespace
}  // namespace digits
