// The safetensors format: an 8-byte little-endian header length, a JSON header
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}}
// then the data section, offsets relative to its start.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "io/tensor_file.h"
#include "supra/tensor.h"

namespace supra {

// Maps and validates a safetensors file: every field is checked against the file size before
// any view is made, so a truncated or hostile file gives a supra::Error, never a bad read.
TensorFile open_safetensors(const std::filesystem::path& path);

// The parsing half of open_safetensors, on bytes already in memory; `what` names them in
// error messages. Views point into `file`.
std::vector<TensorView> parse_safetensors(std::span<const std::byte> file, const std::string& what,
                                          std::map<std::string, std::string>* metadata);

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::span<const std::byte> bytes;  // numel * dtype_size bytes, row-major
};

// Writes a safetensors file atomically (see atomic_file.h), tensors in the given order. The
// header is padded with spaces to a multiple of 8 bytes, as the reference writer does, so the
// data section stays 8-byte aligned within the file.
void save_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace supra
