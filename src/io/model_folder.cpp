#include "io/model_folder.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "io/atomic_file.h"
#include "io/input_file.h"
#include "supra/error.h"

namespace supra {
namespace fs = std::filesystem;

namespace {

fs::path temp_sibling(const fs::path& final_dir, const char* kind) {
  static std::atomic<unsigned> counter{0};
  fs::path p = final_dir;
  p += std::string(".") + kind + "." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  return p;
}

}  // namespace

void write_folder_atomically(const fs::path& final_dir, const std::function<void(const fs::path&)>& fill,
                             bool replace) {
  std::error_code ec;
  const bool exists = fs::exists(final_dir, ec);
  if (exists && !replace) throw Error("cannot write " + final_dir.string() + ": it already exists");
  if (exists && !fs::is_directory(final_dir))
    throw Error("cannot write " + final_dir.string() + ": it exists and is not a folder");
  if (!final_dir.parent_path().empty() && !fs::is_directory(final_dir.parent_path())) {
    fs::create_directories(final_dir.parent_path(), ec);
    if (ec) throw Error("cannot create " + final_dir.parent_path().string() + ": " + ec.message());
  }
  const fs::path tmp = temp_sibling(final_dir, "tmp");
  fs::create_directory(tmp, ec);
  if (ec) throw Error("cannot create " + tmp.string() + ": " + ec.message());
  try {
    fill(tmp);
    if (exists) {
      // rename(2) cannot replace a non-empty folder: move the old one aside first.
      const fs::path old = temp_sibling(final_dir, "old");
      fs::rename(final_dir, old, ec);
      if (ec) throw Error("cannot replace " + final_dir.string() + ": " + ec.message());
      fs::rename(tmp, final_dir, ec);
      if (ec) {
        fs::rename(old, final_dir);
        throw Error("cannot replace " + final_dir.string() + ": " + ec.message());
      }
      fs::remove_all(old, ec);
    } else {
      fs::rename(tmp, final_dir, ec);
      if (ec) throw Error("cannot write " + final_dir.string() + ": rename from " + tmp.string() + ": " + ec.message());
    }
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

void copy_file_synced(const fs::path& from, const fs::path& to) {
  require_regular_file(from);  // a FIFO would block the open below, a device never end
  std::ifstream in(from, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();  // an empty file leaves `bytes` empty (and only its failbit set)
  if (!in || in.bad()) throw Error("cannot read " + from.string());
  write_text_file(to, bytes.str());
}

void copy_tokenizer_files(const fs::path& from, const fs::path& to) {
  for (const char* name : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json"})
    if (fs::is_regular_file(from / name)) copy_file_synced(from / name, to / name);
}

void write_text_file(const fs::path& path, const std::string& text) {
  write_file_atomically(path, [&](std::ostream& out) { out << text; });
}

}  // namespace supra
