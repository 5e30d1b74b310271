#include "io/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>

#include "supra/error.h"

namespace supra {

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

void check_mode(const std::filesystem::path& path, mode_t mode) {
  if (!S_ISREG(mode))
    throw Error(path.string() + ": not a regular file (" + file_kind(mode) + "); refusing to read it");
}

}  // namespace

void throw_file_error(const std::filesystem::path& path, const char* what, int err) {
  throw Error("cannot " + std::string(what) + " " + path.string() + ": " + std::system_category().message(err));
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

void require_regular_file(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw_file_error(path, "open", errno);
  check_mode(path, info.st_mode);
}

FileDescriptor open_regular_file(const std::filesystem::path& path) {
  require_regular_file(path);  // the common case gets its message before any open
  // O_NONBLOCK: should the path have become a FIFO since the check, open() still returns at
  // once, and fstat below refuses it. Reads of a regular file ignore the flag.
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (file.get() < 0) throw_file_error(path, "open", errno);
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) throw_file_error(path, "stat", errno);
  check_mode(path, info.st_mode);
  return file;
}

std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes) {
  const FileDescriptor file = open_regular_file(path);
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) throw_file_error(path, "stat", errno);
  const auto too_big = [&] {
    throw Error(path.string() + ": larger than the " + std::to_string(max_bytes) +
                "-byte limit for this kind of file (" + std::to_string(info.st_size) + " bytes)");
  };
  if (static_cast<std::uint64_t>(info.st_size) > max_bytes) too_big();
  // One byte more than the file holds, and reading to the end rather than trusting st_size:
  // a file that grows meanwhile is still capped.
  std::string bytes(static_cast<std::size_t>(info.st_size) + 1, '\0');
  std::size_t have = 0;
  for (;;) {
    if (have == bytes.size()) {
      if (have > max_bytes) too_big();
      bytes.resize(std::min(bytes.size() * 2, max_bytes + 1));
    }
    const ssize_t n = ::read(file.get(), bytes.data() + have, bytes.size() - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_file_error(path, "read", errno);
    }
    if (n == 0) break;
    have += static_cast<std::size_t>(n);
  }
  if (have > max_bytes) too_big();
  bytes.resize(have);
  return bytes;
}

}  // namespace supra
