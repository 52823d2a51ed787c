#include <attncnn/error.h>
#include <attncnn/io/files.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attncnn {

namespace {

std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

bool stat_of(const std::string& path, struct stat* st) { return ::stat(path.c_str(), st) == 0; }

// Writes all of `bytes` to `fd`, retrying short and interrupted writes; false (errno set) on failure.
bool write_fd(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

bool exists(const std::string& path) {
  struct stat st {};
  return stat_of(path, &st);
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return stat_of(path, &st) && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st {};
  return stat_of(path, &st) && S_ISREG(st.st_mode);
}

int64_t file_size(const std::string& path) {
  struct stat st {};
  if (!stat_of(path, &st)) input_error(path + ": file not found");
  if (!S_ISREG(st.st_mode)) input_error(path + ": not a regular file");
  return static_cast<int64_t>(st.st_size);
}

std::string read_all(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) input_error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      input_error(path + ": read failed (" + std::strerror(err) + ")");
    }
    out.append(buf, static_cast<size_t>(r));
  }
  ::close(fd);
  return out;
}

void write_all(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) runtime_error(path + ": cannot write (" + std::strerror(errno) + ")");
  const bool ok = write_fd(fd, bytes);
  const int err = errno;
  if (::close(fd) != 0 || !ok) runtime_error(path + ": write failed (" + std::strerror(ok ? errno : err) + ")");
}

void atomic_write(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) runtime_error(path + ": cannot write (" + std::strerror(errno) + ")");
  if (!write_fd(fd, bytes)) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    runtime_error(path + ": write failed (" + std::strerror(err) + "); the previous file is unchanged");
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    runtime_error(path + ": flush failed (" + std::strerror(err) + "); the previous file is unchanged");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    runtime_error(path + ": rename failed (" + std::strerror(err) + "); the previous file is unchanged");
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void make_dirs(const std::string& path) {
  std::string cur = !path.empty() && path[0] == '/' ? "/" : "";
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string part = path.substr(start, end - start);
    start = end + 1;
    if (part.empty()) continue;
    cur += part + "/";
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      runtime_error(cur + ": cannot create folder (" + std::strerror(errno) + ")");
  }
  if (!path.empty() && !is_dir(path)) runtime_error(path + ": cannot create folder (a file of that name exists)");
}

}  // namespace attncnn
