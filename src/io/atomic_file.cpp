#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <streambuf>
#include <string>
#include <system_error>

#include "supra/error.h"

namespace supra {

namespace {

std::string errno_text(int err) { return std::system_category().message(err); }

// A stream buffer writing to a file descriptor. std::ofstream cannot be fsynced and loses the
// errno of a failed write; this keeps it so that "No space left on device" reaches the user.
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) { setp(buffer_, buffer_ + sizeof buffer_); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  // Writes out the buffered bytes; false (with error_ set) on failure.
  bool drain() {
    const char* p = pbase();
    while (p < pptr()) {
      const ssize_t n = ::write(fd_, p, static_cast<std::size_t>(pptr() - p));
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return false;
      }
      p += n;
    }
    setp(buffer_, buffer_ + sizeof buffer_);
    return true;
  }

  int fd_;
  int error_ = 0;
  char buffer_[1 << 16];
};

std::filesystem::path temp_path_for(const std::filesystem::path& final_path) {
  std::random_device rd;
  const unsigned long long tag = (static_cast<unsigned long long>(rd()) << 32) | rd();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", tag);
  std::filesystem::path tmp = final_path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + hex;
  return tmp;
}

// Makes the rename itself durable. Best effort: some filesystems refuse to fsync directories,
// and by now the data is complete either way.
void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::filesystem::path& final_path,
                           const std::function<void(std::ostream&)>& writer) {
  // Renaming over a device, a fifo or a directory would replace it (as root, `-o /dev/null`
  // would destroy /dev/null): only regular files, or nothing, may sit at the final path.
  std::error_code ec;
  const auto status = std::filesystem::status(final_path, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw Error("cannot write " + final_path.string() + ": it exists and is not a regular file");
  const std::filesystem::path tmp = temp_path_for(final_path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0)
    throw Error("cannot write " + final_path.string() + ": cannot create " + tmp.string() + ": " +
                errno_text(errno));
  try {
    FdBuf buf(fd);
    std::ostream out(&buf);
    writer(out);
    out.flush();
    if (!out)
      throw Error("cannot write " + final_path.string() + ": " +
                  (buf.error() ? errno_text(buf.error()) : std::string("stream error")));
    if (::fsync(fd) != 0)
      throw Error("cannot write " + final_path.string() + ": fsync: " + errno_text(errno));
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0)
      throw Error("cannot write " + final_path.string() + ": close: " + errno_text(errno));
    if (::rename(tmp.c_str(), final_path.c_str()) != 0)
      throw Error("cannot write " + final_path.string() + ": rename from " + tmp.string() + ": " +
                  errno_text(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  sync_directory(final_path.parent_path());
}

}  // namespace supra
