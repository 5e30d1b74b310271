// State files (docs/STATE_FORMAT.md, the format of the server's state export) for one loaded
// model: `generate --prompt-cache` and chat's /save and /load. Reading checks everything an
// HTTP import checks; writing is atomic (a crash leaves the old file or the new one).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "serve/state_format.h"
#include "supra/model.h"

namespace supra::cli {

class StateFile {
 public:
  StateFile(const Model& model, int vocab_size);
  // Throws supra::Error "<what> <path>: <reason>" when the file is unreadable, corrupt, or of
  // another model.
  serve::StoredState read(const std::filesystem::path& path, const std::string& what) const;
  void write(const std::filesystem::path& path, const State& state, const std::vector<TokenId>& tokens) const;

 private:
  std::uint64_t fingerprint_;
  serve::StateShape shape_;
  int vocab_size_;
};

}  // namespace supra::cli
