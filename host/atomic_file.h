// Writing a file so that a reader sees the previous version or the new one, never a part of either, and the
// new one survives a power cut once the call returns: the one writer of model files, images and reports.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace digits {

/*! requires: fill writes the whole content to the stream it is given and returns "" or the problem it met.
    ensures: first removes the temporaries of `path` that a killed save left (remove_stale_temporaries);
      then fills a new temporary "<path>.tmp.<pid>.<n>" beside the target (created with O_EXCL: never
      another's file; same file system, so rename() is atomic), flushes it, fsyncs it, renames it over
      `path` and fsyncs the directory (file systems that cannot sync a directory are accepted).
      On a failure before the rename, the temporary is removed, a previous file stays intact, and
      digits::Error "<path>: cannot save: <problem>" is thrown (an exception from fill passes through).
      If only the directory sync fails, the file is in place and "<path>: saved, but syncing ..." is thrown. !*/
void write_file_atomic(const std::string& path, const std::function<std::string(std::FILE*)>& fill);

/*! ensures: write_file_atomic of exactly `bytes` (text or binary); a short write fails with errno's text. !*/
void write_bytes_atomic(const std::string& path, std::string_view bytes);

/*! ensures: removes every "<path>.tmp.<pid>" and "<path>.tmp.<pid>.<n>" beside `path` whose process no
      longer runs (kill(pid, 0) fails with ESRCH); never a temporary of a live process, this one included.
      Best effort: an unreadable directory or a file that cannot be removed is skipped. Returns the count
      removed. !*/
size_t remove_stale_temporaries(const std::string& path);

}  // namespace digits
