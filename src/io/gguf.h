// GGUF (version 3; version 2 has the same layout), llama.cpp's single-file model format:
//   u32 magic "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count × (string key, u32 value_type, value),
//   tensor_count × (string name, u32 n_dims, u64 ne[n_dims] (innermost first), u32 ggml_type,
//                   u64 offset (relative to the data section, a multiple of the alignment)),
//   zero padding to the alignment (general.alignment, default 32), the data section.
// A string is u64 length + bytes (no terminator); an array is u32 element type, u64 count,
// elements. Everything is little-endian. docs/QUANTIZATION.md lists what supra stores in it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/tensor_file.h"
#include "supra/tensor.h"

namespace supra {

enum class GgufType : std::uint32_t {
  Uint8 = 0, Int8 = 1, Uint16 = 2, Int16 = 3, Uint32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
  String = 8, Array = 9, Uint64 = 10, Int64 = 11, Float64 = 12,
};

// One metadata value: a scalar (one element) or an array of one element type. Integers and
// bools are kept in `ints` (uint64 values above INT64_MAX as their bit pattern), floats in
// `floats`, strings in `strings`.
struct GgufValue {
  GgufType type = GgufType::Uint32;  // Array for arrays
  GgufType elem = GgufType::Uint32;  // the element type (== type for scalars)
  std::vector<std::int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  static GgufValue scalar(GgufType type, std::int64_t v);  // any integer type or Bool
  static GgufValue f32(float v);
  static GgufValue string(std::string v);
  static GgufValue array(GgufType elem, std::vector<std::int64_t> v);
  static GgufValue f32_array(std::vector<float> v);
  static GgufValue string_array(std::vector<std::string> v);

  bool is_array() const { return type == GgufType::Array; }
  std::size_t size() const;  // elements (1 for a scalar)
};

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;  // file order, unique keys

// nullptr when absent.
const GgufValue* gguf_find(const GgufMetadata& metadata, std::string_view key);

// GGML type ids: F32 0, F16 1, Q4_0 2, Q8_0 8, BF16 30. Throws for any other type.
std::uint32_t ggml_type_of(DType t);

// Maps and validates a GGUF file: every count, length and offset is checked against the file
// size before it is used, so a hostile file gives a supra::Error (never a crash or a huge
// allocation). Views are zero-copy (shape outermost first, as everywhere in supra); the
// TensorFile's string metadata holds the scalar keys printed as text. Array values are kept
// only when `metadata` is asked for (a model load steps over the vocabulary arrays); more than
// 65536 metadata keys is an error.
TensorFile open_gguf(const std::filesystem::path& path, GgufMetadata* metadata = nullptr);
std::vector<TensorView> parse_gguf(std::span<const std::byte> file, const std::string& what, GgufMetadata* metadata);

struct GgufTensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;  // outermost first
};

// Writes a GGUF v3 file atomically, tensors in the given order. `tensor_bytes(i)` returns the
// bytes of tensor i (exactly its size) and is called once per tensor, in order, so only one
// tensor needs to be in memory at a time. The alignment is general.alignment when present.
void write_gguf(const std::filesystem::path& path, const GgufMetadata& metadata,
                const std::vector<GgufTensorInfo>& tensors,
                const std::function<std::vector<std::byte>(std::size_t)>& tensor_bytes);

}  // namespace supra
