#include "train/checkpoint_manifest.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <system_error>
#include <vector>

#include "io/input_file.h"
#include "io/json_file.h"
#include "io/model_folder.h"
#include "supra/error.h"

namespace supra::train {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "supra-checkpoint-checksums";
constexpr int kVersion = 1;

std::string hex32(std::uint32_t v) {
  char s[9];
  std::snprintf(s, sizeof s, "%08x", v);
  return s;
}

struct FileSum {
  std::uintmax_t bytes = 0;
  std::string crc32;  // 8 lowercase hex digits
};

// Names of the entries of `folder` other than checksums.json, sorted; anything but a regular
// file (a directory, a symlink, a FIFO) is refused, since a checkpoint writes none.
std::vector<std::string> folder_files(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (name == kChecksumsFile) continue;
    if (e.is_symlink() || !e.is_regular_file())
      throw Error(e.path().string() + ": not a regular file, and a checkpoint holds only regular files");
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::map<std::string, FileSum> read_checksums(const fs::path& folder) {
  const fs::path path = folder / kChecksumsFile;
  if (!fs::exists(fs::symlink_status(path)))
    throw Error(path.string() + " is missing, so the checkpoint cannot be verified (it is damaged, or was written by "
                "a supra without checkpoint checksums)");
  const json j = read_json_file(path);
  const auto bad = [&](const std::string& why) { return Error(path.string() + ": " + why); };
  if (!j.is_object() || j.value("format", json()) != kFormat || j.value("version", json()) != kVersion ||
      j.value("algorithm", json()) != "crc32")
    throw bad(std::string("not a ") + kFormat + " file of version " + std::to_string(kVersion) + " with crc32");
  const json& files = j.value("files", json());
  if (!files.is_object()) throw bad("\"files\" is not an object");
  std::map<std::string, FileSum> sums;
  for (const auto& [name, entry] : files.items()) {
    const std::string shown = quote_json(name);
    // Only plain names of this folder: "../x" or "a/b" would verify a file elsewhere.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos || name == kChecksumsFile)
      throw bad("the entry " + shown + " is not a file name of the checkpoint");
    if (!entry.is_object() || !entry.contains("bytes") || !entry["bytes"].is_number_unsigned() ||
        !entry.contains("crc32") || !entry["crc32"].is_string())
      throw bad("the entry " + shown + " needs \"bytes\" (an unsigned integer) and \"crc32\" (a string)");
    const std::string crc = entry["crc32"].get<std::string>();
    if (crc.size() != 8 || crc.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw bad("the crc32 of " + shown + " is not 8 lowercase hex digits");
    sums[name] = FileSum{entry["bytes"].get<std::uintmax_t>(), crc};
  }
  return sums;
}

}  // namespace

std::uint32_t file_crc32(const fs::path& path) {
  const FileDescriptor file = open_regular_file(path);
  std::vector<unsigned char> block(1u << 20);
  uLong crc = crc32_z(0, Z_NULL, 0);
  for (;;) {
    const ssize_t n = ::read(file.get(), block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_file_error(path, "read", errno);
    if (n == 0) break;
    crc = crc32_z(crc, block.data(), static_cast<z_size_t>(n));
  }
  return static_cast<std::uint32_t>(crc);
}

void write_checkpoint_checksums(const fs::path& folder) {
  json files = json::object();
  for (const std::string& name : folder_files(folder)) {
    const fs::path path = folder / name;
    files[name] = {{"bytes", fs::file_size(path)}, {"crc32", hex32(file_crc32(path))}};
  }
  const json j = {{"format", kFormat}, {"version", kVersion}, {"algorithm", "crc32"}, {"files", files}};
  write_text_file(folder / kChecksumsFile, j.dump(2) + "\n");
}

void verify_checkpoint_checksums(const fs::path& folder) {
  const std::map<std::string, FileSum> sums = read_checksums(folder);
  const std::vector<std::string> present = folder_files(folder);
  for (const std::string& name : present)
    if (!sums.count(name))
      throw Error((folder / name).string() + " is not listed in " + kChecksumsFile +
                  " (a checkpoint holds only the files it was written with)");
  for (const auto& [name, sum] : sums) {
    const fs::path path = folder / name;
    if (!std::binary_search(present.begin(), present.end(), name))
      throw Error(path.string() + " is missing (listed in " + kChecksumsFile + ")");
    const std::uintmax_t bytes = fs::file_size(path);
    if (bytes != sum.bytes)
      throw Error(path.string() + " is damaged: " + std::to_string(bytes) + " bytes, " + kChecksumsFile + " says " +
                  std::to_string(sum.bytes));
    const std::string crc = hex32(file_crc32(path));
    if (crc != sum.crc32)
      throw Error(path.string() + " is damaged: its CRC-32 is " + crc + ", " + kChecksumsFile + " says " + sum.crc32);
  }
}

}  // namespace supra::train
