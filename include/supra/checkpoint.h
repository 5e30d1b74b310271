// Checkpoint: the named tensors of a model folder, whatever file format holds them.
//
// Supported layouts (spec §7.2):
//   model.safetensors
//   model.safetensors.index.json + shards
//   pytorch_model.bin (torch zip; read with a restricted unpickler that never runs code)
//   model.gguf (llama.cpp's format; F32/F16/BF16/Q8_0/Q4_0 tensors, docs/QUANTIZATION.md)
// Tensor bytes are memory-mapped; a view points straight into the mapping when the
// stored dtype can be used as is. A view's data pointer is NOT necessarily aligned for its
// dtype (the formats only promise byte offsets): consumers must memcpy or handle unaligned
// loads.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "supra/tensor.h"

namespace supra {

class TensorFile;  // one opened weights file (safetensors or torch zip); see src/io

class Checkpoint {
 public:
  // Opens the weights of a model folder. Throws supra::Error when no weights file
  // is present or a file is malformed.
  static Checkpoint open_folder(const std::filesystem::path& folder);
  // Opens one file: *.safetensors, a torch zip (*.bin / *.pt) or *.gguf.
  static Checkpoint open_file(const std::filesystem::path& file);
  // Opens the shards named by an HF index file ({"weight_map": {tensor: shard file}}, e.g.
  // model.safetensors.index.json), each once. Every listed tensor must be in its shard, and
  // no tensor may appear in two shards.
  static Checkpoint open_sharded(const std::filesystem::path& index_json);

  Checkpoint(Checkpoint&&) noexcept;
  Checkpoint& operator=(Checkpoint&&) noexcept;
  ~Checkpoint();

  bool has(const std::string& name) const;
  // Throws supra::Error naming the tensor and the file(s) when absent.
  const TensorView& get(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  std::string describe() const;            // the file(s) behind it, for messages
  // A file-level metadata string: safetensors "__metadata__" entries, GGUF scalar keys
  // (numbers printed as text, e.g. "general.architecture" → "llama"). nullopt when absent.
  std::optional<std::string> metadata(const std::string& key) const;

 private:
  Checkpoint();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace supra
