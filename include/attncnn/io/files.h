#pragma once
/// File helpers, the one copy for the library, the tools and the tests.
///
///   if (!attncnn::is_dir(out)) attncnn::make_dirs(out);
///   attncnn::atomic_write(out + "/args.json", text);   // readers see the old file or the new one, never half
///   std::string bytes = attncnn::read_all(path);
///
/// Paths are plain strings (POSIX). The predicates never throw; the rest throw attncnn::Error naming the path and
/// the system's reason: input errors when reading what the user named, runtime errors when writing fails.
#include <cstdint>
#include <string>

namespace attncnn {

/// Whether `path` names anything stat() can see (a file, a folder, a device, …), following symlinks.
bool exists(const std::string& path);
/// Whether `path` is a folder (or a symlink to one).
bool is_dir(const std::string& path);
/// Whether `path` is a regular file (or a symlink to one).
bool is_file(const std::string& path);

/// Size in bytes of the regular file `path`. Throws (input error) "PATH: file not found" or
/// "PATH: not a regular file".
int64_t file_size(const std::string& path);

/// The whole file, as bytes. Throws (input error) naming the path when it cannot be opened or read.
std::string read_all(const std::string& path);

/// Replaces the content of `path` with `bytes` (created when missing). Not atomic: see atomic_write for files
/// others may read meanwhile. Throws (runtime error) naming the path.
void write_all(const std::string& path, const std::string& bytes);

/// Writes `bytes` to `path` so that `path` always holds either its old content or all of `bytes`: a temporary
/// file beside it (PATH.tmp.PID) is written, flushed to disk, then renamed over `path`. Throws (runtime error)
/// naming the path; the previous file is then unchanged.
void atomic_write(const std::string& path, const std::string& bytes);

/// Creates the folder `path` and its missing parents (as `mkdir -p`). Throws (runtime error) naming the folder
/// that could not be created.
void make_dirs(const std::string& path);

}  // namespace attncnn
