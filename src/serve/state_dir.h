// StateDir: the folder of `supra serve --state-dir`, where every stored state lives as one
// state file (docs/STATE_FORMAT.md) named "<id>.state". A file is written completely, fsynced
// and renamed into place (and the folder fsynced) before its request is acknowledged, so a
// crash at any moment leaves either the whole file or none of it under its final name.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace supra::serve {

// The helpers both state folders (stored states, the prefix cache) scan with.
// One warning line on stderr: "supra serve: warning: PATH: WHY".
void warn_about_file(const std::filesystem::path& path, const std::string& why);
// The file's modification time in Unix nanoseconds (0 when it cannot be read).
std::int64_t modified_ns(const std::filesystem::path& path);
// Removes (with a warning) a temporary file of a write a crash interrupted, never acknowledged;
// true when `path` was one.
bool remove_interrupted_write(const std::filesystem::path& path);

class StateDir {
 public:
  // Creates the folder when missing; throws supra::Error when it cannot be made or is no folder.
  explicit StateDir(std::filesystem::path folder);

  struct File {
    std::string id;
    std::filesystem::path path;
    std::int64_t modified_ms = 0;  // Unix milliseconds: when the state was stored
  };
  // The files named like a state id. Leftover temporary files of an interrupted write are
  // removed, anything else is left alone; each gets one warning line on stderr.
  std::vector<File> scan() const;

  void write(const std::string& id, const std::string& bytes) const;  // atomic and durable
  // The file's bytes; throws supra::Error when it cannot be read or is over `cap` bytes.
  std::string read(const std::string& id, std::size_t cap) const;
  void remove(const std::string& id) const;

 private:
  std::filesystem::path path_of(const std::string& id) const;
  static bool valid_id(const std::string& id);  // "state-" and 16 lowercase hex digits

  std::filesystem::path folder_;
};

}  // namespace supra::serve
