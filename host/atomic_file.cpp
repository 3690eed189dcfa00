// write_file_atomic: temporary file beside the target, write, flush, fsync, rename, fsync of the directory;
// and the clean-up of temporaries left by saves that were killed (SIGKILL, power cut) before their rename.
#include "atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <filesystem>

#include "error.h"

namespace digits {
namespace {

namespace fs = std::filesystem;

std::string errno_text(int err) { return std::strerror(err); }

// The pid in "<name>.tmp.<pid>" or "<name>.tmp.<pid>.<n>", or 0 when `entry` is not a temporary of `name`.
pid_t temporary_owner(const std::string& entry, const std::string& name) {
  const std::string prefix = name + ".tmp.";
  if (entry.size() <= prefix.size() || entry.compare(0, prefix.size(), prefix) != 0) return 0;
  const char *p = entry.data() + prefix.size(), *end = entry.data() + entry.size();
  long long pid = 0;
  auto [q, ec] = std::from_chars(p, end, pid);
  if (ec != std::errc() || pid <= 0 || pid > INT_MAX) return 0;
  if (q != end) {
    unsigned long long n = 0;
    if (*q != '.') return 0;
    auto [r, ec2] = std::from_chars(q + 1, end, n);
    if (ec2 != std::errc() || r != end) return 0;
  }
  return pid_t(pid);
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Creates "<path>.tmp.<pid>.<n>" exclusively; returns its descriptor, or -1 with errno set.
int create_temporary(const std::string& path, std::string* tmp) {
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    *tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    const int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

[[noreturn]] void fail_to_create(const std::string& path, const std::string& tmp, int err) {
  DIGITS_FAIL(path << ": cannot save: cannot create " << tmp << ": " << errno_text(err)
                   << (err == EACCES || err == EPERM || err == EROFS ? " (is the directory writable?)"
                       : err == ENOENT                              ? " (does the directory exist?)"
                                                                    : ""));
}

// Flushes, syncs and closes f, then renames tmp over path; "" or the first problem (after fill's own).
std::string finish(std::FILE* f, const std::string& tmp, const std::string& path, std::string problem) {
  if (problem.empty() && (std::fflush(f) != 0 || std::ferror(f)))
    problem = "writing " + tmp + " failed: " + errno_text(errno);
  if (problem.empty() && ::fsync(::fileno(f)) != 0) problem = "syncing " + tmp + " failed: " + errno_text(errno);
  if (std::fclose(f) != 0 && problem.empty()) problem = "closing " + tmp + " failed: " + errno_text(errno);
  if (problem.empty() && std::rename(tmp.c_str(), path.c_str()) != 0)
    problem = "renaming " + tmp + " over it failed: " + errno_text(errno);
  return problem;
}

// fsync of the directory makes the rename itself durable. File systems that cannot sync a directory
// (EINVAL, ENOTSUP, EROFS) are fine: the data is already on disk.
void sync_directory(const std::string& path, const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // e.g. a directory we may write but not read: the file itself is complete
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL && err != ENOTSUP && err != EROFS)
    DIGITS_FAIL(path << ": saved, but syncing directory " << dir.string() << " failed: " << errno_text(err));
}

fs::path directory_of(const std::string& path) {
  const fs::path target(path);
  return target.has_parent_path() ? target.parent_path() : fs::path(".");
}

}  // namespace

size_t remove_stale_temporaries(const std::string& path) {
  const fs::path dir = directory_of(path);
  const std::string name = fs::path(path).filename().string();
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const pid_t owner = temporary_owner(it->path().filename().string(), name);
    if (owner == 0 || owner == ::getpid() || !process_gone(owner)) continue;
    std::error_code rm;
    if (fs::remove(it->path(), rm)) ++removed;
  }
  return removed;
}

void write_file_atomic(const std::string& path, const std::function<std::string(std::FILE*)>& fill) {
  remove_stale_temporaries(path);
  std::string tmp;
  const int fd = create_temporary(path, &tmp);
  if (fd < 0) fail_to_create(path, tmp, errno);
  std::FILE* f = ::fdopen(fd, "wb");
  if (f == nullptr) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    DIGITS_FAIL(path << ": cannot save: cannot open " << tmp << ": " << errno_text(err));
  }
  std::string problem;
  try {
    problem = fill(f);
  } catch (...) {
    std::fclose(f);
    ::unlink(tmp.c_str());
    throw;
  }
  problem = finish(f, tmp, path, std::move(problem));
  if (!problem.empty()) {
    ::unlink(tmp.c_str());
    DIGITS_FAIL(path << ": cannot save: " << problem);
  }
  sync_directory(path, directory_of(path));
}

void write_bytes_atomic(const std::string& path, std::string_view bytes) {
  write_file_atomic(path, [&](std::FILE* f) {
    return std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() ? std::string()
                                                                          : "write error: " + errno_text(errno);
  });
}

}  // namespace digits
