// Opening files that come from outside (model folders, data files, state files) for reading.
// A FIFO, a socket, a directory or a device (such as a symlink to /dev/zero) is refused before
// any blocking open() or unbounded read: opening a FIFO for reading waits for a writer forever,
// and a character device never ends.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace supra {

// Throws supra::Error "cannot open PATH: <reason>" when the file does not exist or cannot be
// inspected, and "PATH: not a regular file (a FIFO)" and the like when it is not a regular file
// (symlinks are followed).
void require_regular_file(const std::filesystem::path& path);

// Throws supra::Error "cannot WHAT PATH: <the system's reason for errno `err`>".
[[noreturn]] void throw_file_error(const std::filesystem::path& path, const char* what, int err);

// An open file descriptor, closed when this goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor();
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  FileDescriptor& operator=(FileDescriptor&&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A read-only descriptor of the regular file at `path` (O_CLOEXEC), or a supra::Error as for
// require_regular_file. The open itself cannot block, even if the file is replaced by a FIFO
// between the check and the open.
FileDescriptor open_regular_file(const std::filesystem::path& path);

// The whole regular file at `path`; a file over `max_bytes` is refused with an error naming
// the limit, so a small parser never reads an unbounded amount.
std::string read_small_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace supra
