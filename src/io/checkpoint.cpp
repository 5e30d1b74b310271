// Checkpoint: finds the weights file(s) of a folder and merges their tensors into one index.
#include "supra/checkpoint.h"

#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/gguf.h"
#include "io/input_file.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "io/torch_zip.h"
#include "supra/error.h"

namespace supra {

namespace fs = std::filesystem;

struct Checkpoint::Impl {
  std::vector<std::unique_ptr<TensorFile>> files;
  std::map<std::string, const TensorView*> by_name;
  std::map<std::string, const TensorFile*> file_of;  // which file each tensor came from
  std::string description;

  void add(std::unique_ptr<TensorFile> file) {
    for (const TensorView& t : file->tensors()) {
      const auto [it, inserted] = file_of.emplace(t.name, file.get());
      if (!inserted)
        throw Error("tensor '" + t.name + "' appears in both " + it->second->path().string() +
                    " and " + file->path().string());
      by_name.emplace(t.name, &t);
    }
    files.push_back(std::move(file));
  }
};

namespace {

using Opener = std::function<TensorFile(const fs::path&)>;

bool has_zip_magic(const fs::path& file) {
  require_regular_file(file);
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
}

bool has_gguf_magic(const fs::path& file) {
  require_regular_file(file);
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in && std::string_view(magic, 4) == "GGUF";
}

TensorFile open_gguf_file(const fs::path& file) { return open_gguf(file); }

Opener opener_for(const fs::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".safetensors") return open_safetensors;
  if (ext == ".bin" || ext == ".pt" || ext == ".pth") return open_torch_zip;
  if (ext == ".gguf" || has_gguf_magic(file)) return open_gguf_file;
  return has_zip_magic(file) ? Opener(open_torch_zip) : Opener(open_safetensors);
}

// The shard file names of an HF index ({"weight_map": {tensor: shard file}}), per tensor.
std::map<std::string, std::string> read_weight_map(const fs::path& index) {
  const nlohmann::json json = read_json_file(index);
  if (!json.is_object() || !json.contains("weight_map") || !json.at("weight_map").is_object())
    throw Error(index.string() + ": no \"weight_map\" object");
  std::map<std::string, std::string> map;
  for (const auto& [tensor, shard] : json.at("weight_map").items()) {
    // Shards are plain names beside the index: a path could point anywhere on the disk.
    if (!shard.is_string() || shard.get<std::string>().empty() ||
        shard.get<std::string>().find('/') != std::string::npos ||
        shard.get<std::string>() == "." || shard.get<std::string>() == "..")
      throw Error(index.string() + ": weight_map entry for '" + shorten_text(tensor) +
                  "' is not a file name in the same folder: " + quote_json(shard));
    map[tensor] = shard.get<std::string>();
  }
  return map;
}

}  // namespace

Checkpoint::Checkpoint() : impl_(std::make_unique<Impl>()) {}
Checkpoint::Checkpoint(Checkpoint&&) noexcept = default;
Checkpoint& Checkpoint::operator=(Checkpoint&&) noexcept = default;
Checkpoint::~Checkpoint() = default;

Checkpoint Checkpoint::open_file(const fs::path& file) {
  Checkpoint c;
  c.impl_->add(std::make_unique<TensorFile>(opener_for(file)(file)));
  c.impl_->description = file.string();
  return c;
}

Checkpoint Checkpoint::open_sharded(const fs::path& index) {
  const std::map<std::string, std::string> weight_map = read_weight_map(index);
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : weight_map) shards.insert(shard);

  Checkpoint c;
  for (const std::string& shard : shards) {
    const fs::path path = index.parent_path() / shard;
    c.impl_->add(std::make_unique<TensorFile>(opener_for(path)(path)));
  }
  for (const auto& [tensor, shard] : weight_map) {
    const auto it = c.impl_->file_of.find(tensor);
    if (it == c.impl_->file_of.end() || it->second->path().filename() != shard)
      throw Error(index.string() + ": tensor '" + shorten_text(tensor) + "' is listed in shard " + shard +
                  " but absent from it");
  }
  c.impl_->description = index.string() + " (" + std::to_string(shards.size()) + " shards)";
  return c;
}

Checkpoint Checkpoint::open_folder(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw Error("model folder " + folder.string() +
                (fs::exists(folder, ec) ? " is not a folder" : " does not exist"));
  // In the order HF prefers them.
  for (const char* name : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                           "pytorch_model.bin.index.json", "model.gguf"}) {
    const fs::path path = folder / name;
    if (!fs::exists(path, ec)) continue;
    return path.extension() == ".json" ? open_sharded(path) : open_file(path);
  }
  throw Error("no weights file in " + folder.string() +
              " (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin, "
              "pytorch_model.bin.index.json, model.gguf)");
}

bool Checkpoint::has(const std::string& name) const { return impl_->by_name.contains(name); }

const TensorView& Checkpoint::get(const std::string& name) const {
  const auto it = impl_->by_name.find(name);
  if (it == impl_->by_name.end())
    throw Error("tensor '" + name + "' not found in " + impl_->description);
  return *it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->by_name.size());
  for (const auto& entry : impl_->by_name) out.push_back(entry.first);
  return out;
}

std::optional<std::string> Checkpoint::metadata(const std::string& key) const {
  for (const auto& file : impl_->files) {
    const auto it = file->metadata().find(key);
    if (it != file->metadata().end()) return it->second;
  }
  return std::nullopt;
}

std::string Checkpoint::describe() const { return impl_->description; }

}  // namespace supra
