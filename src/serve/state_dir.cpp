#include "serve/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "io/atomic_file.h"
#include "supra/error.h"

namespace supra::serve {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSuffix = ".state";

std::int64_t modified_ms(const fs::path& path) { return modified_ns(path) / 1000000; }

}  // namespace

void warn_about_file(const fs::path& path, const std::string& why) {
  std::fprintf(stderr, "supra serve: warning: %s: %s\n", path.c_str(), why.c_str());
}

std::int64_t modified_ns(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

bool remove_interrupted_write(const fs::path& path) {
  if (path.filename().string().find(".state.tmp.") == std::string::npos) return false;
  warn_about_file(path, "an interrupted write, removed");
  std::error_code ec;
  fs::remove(path, ec);
  return true;
}

StateDir::StateDir(fs::path folder) : folder_(std::move(folder)) {
  std::error_code ec;
  fs::create_directories(folder_, ec);
  if (!fs::is_directory(folder_))
    throw Error("--state-dir " + folder_.string() + ": not a folder" + (ec ? " (" + ec.message() + ")" : std::string()));
  if (::access(folder_.c_str(), W_OK | X_OK) != 0) throw Error("--state-dir " + folder_.string() + ": not writable");
}

bool StateDir::valid_id(const std::string& id) {
  if (id.size() != 22 || id.rfind("state-", 0) != 0) return false;
  for (std::size_t i = 6; i < id.size(); ++i)
    if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return false;
  return true;
}

fs::path StateDir::path_of(const std::string& id) const { return folder_ / (id + kSuffix); }

std::vector<StateDir::File> StateDir::scan() const {
  std::vector<File> files;
  for (const auto& entry : fs::directory_iterator(folder_)) {
    const std::string name = entry.path().filename().string();
    if (remove_interrupted_write(entry.path())) continue;
    const std::size_t suffix = name.size() >= 6 ? name.size() - 6 : 0;
    const std::string id = name.substr(0, suffix);
    if (name.substr(suffix) != kSuffix || !valid_id(id) || !entry.is_regular_file()) {
      warn_about_file(entry.path(), "not a state file of supra serve, skipped");
      continue;
    }
    files.push_back({id, entry.path(), modified_ms(entry.path())});
  }
  return files;
}

void StateDir::write(const std::string& id, const std::string& bytes) const {
  write_file_atomically(path_of(id), [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

std::string StateDir::read(const std::string& id, std::size_t cap) const {
  const fs::path path = path_of(id);
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error("cannot read " + path.string() + ": " + ec.message());
  if (size > cap) throw Error(path.string() + " is larger than the state disk budget (" + std::to_string(cap) + " bytes)");
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<std::size_t>(size), '\0');
  if (!in || !in.read(bytes.data(), static_cast<std::streamsize>(bytes.size())))
    throw Error("cannot read " + path.string());
  return bytes;
}

void StateDir::remove(const std::string& id) const {
  ::unlink(path_of(id).c_str());
  // The removal durable too, so a deleted state does not come back after a crash.
  const int fd = ::open(folder_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace supra::serve
