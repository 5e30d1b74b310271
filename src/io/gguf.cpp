// GGUF reading (bounds-checked cursor over the mapping) and streaming writing.
#include "io/gguf.h"

#include <bit>
#include <cstring>
#include <limits>
#include <ostream>
#include <set>

#include "io/atomic_file.h"
#include "io/bytes.h"
#include "io/json_file.h"
#include "supra/error.h"

namespace supra {
namespace {

constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr std::uint32_t kDefaultAlignment = 32;
constexpr std::uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

struct TypeId {
  DType dtype;
  std::uint32_t ggml;
};
constexpr TypeId kTypes[] = {{DType::F32, 0}, {DType::F16, 1}, {DType::Q4_0, 2}, {DType::Q8_0, 8}, {DType::BF16, 30}};

std::size_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::Uint8:
    case GgufType::Int8:
    case GgufType::Bool: return 1;
    case GgufType::Uint16:
    case GgufType::Int16: return 2;
    case GgufType::Uint32:
    case GgufType::Int32:
    case GgufType::Float32: return 4;
    case GgufType::Uint64:
    case GgufType::Int64:
    case GgufType::Float64: return 8;
    case GgufType::String: return 8;  // the length prefix: the least a string can take
    case GgufType::Array: return 12;  // element type + count
  }
  return 0;
}

bool is_float(GgufType t) { return t == GgufType::Float32 || t == GgufType::Float64; }

// Reads from [pos, end) of the file; every read checks that its bytes are there.
class Cursor {
 public:
  Cursor(std::span<const std::byte> file, const std::string& what) : file_(file), what_(what) {}

  std::size_t pos() const { return pos_; }
  std::size_t left() const { return file_.size() - pos_; }
  std::size_t size() const { return file_.size(); }

  [[noreturn]] void fail(const std::string& message) const {
    throw Error(what_ + ": " + message + " (at byte " + std::to_string(pos_) + ")");
  }

  const std::byte* take(std::uint64_t n, const char* field) {
    if (n > left())
      fail(std::string(field) + " needs " + std::to_string(n) + " bytes but only " + std::to_string(left()) +
           " remain (file truncated?)");
    const std::byte* p = file_.data() + pos_;
    pos_ += static_cast<std::size_t>(n);
    return p;
  }
  template <typename T>
  T read(const char* field) {
    return load_le<T>(take(sizeof(T), field));
  }
  std::string string(const char* field) {
    const auto n = read<std::uint64_t>(field);
    const std::byte* p = take(n, field);
    return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  // A count of items of at least `min_bytes` each: more than the remaining bytes could hold
  // is a corrupt file, caught before anything is reserved for them.
  std::uint64_t count(std::uint64_t min_bytes, const char* field) {
    const auto n = read<std::uint64_t>(field);
    if (min_bytes > 0 && n > left() / min_bytes)
      fail(std::string(field) + " " + std::to_string(n) + " cannot fit in the " + std::to_string(left()) +
           " remaining bytes");
    return n;
  }

 private:
  std::span<const std::byte> file_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

GgufType read_type(Cursor& c, const char* field) {
  const auto t = c.read<std::uint32_t>(field);
  if (t > static_cast<std::uint32_t>(GgufType::Float64)) c.fail(std::string(field) + " " + std::to_string(t) + " is not a GGUF value type");
  return static_cast<GgufType>(t);
}

void read_element(Cursor& c, GgufType t, GgufValue& v) {
  switch (t) {
    case GgufType::Uint8: v.ints.push_back(c.read<std::uint8_t>("value")); return;
    case GgufType::Int8: v.ints.push_back(c.read<std::int8_t>("value")); return;
    case GgufType::Uint16: v.ints.push_back(c.read<std::uint16_t>("value")); return;
    case GgufType::Int16: v.ints.push_back(c.read<std::int16_t>("value")); return;
    case GgufType::Uint32: v.ints.push_back(c.read<std::uint32_t>("value")); return;
    case GgufType::Int32: v.ints.push_back(c.read<std::int32_t>("value")); return;
    case GgufType::Uint64: v.ints.push_back(std::bit_cast<std::int64_t>(c.read<std::uint64_t>("value"))); return;
    case GgufType::Int64: v.ints.push_back(c.read<std::int64_t>("value")); return;
    case GgufType::Float32: v.floats.push_back(c.read<float>("value")); return;
    case GgufType::Float64: v.floats.push_back(c.read<double>("value")); return;
    case GgufType::Bool: {
      const auto b = c.read<std::uint8_t>("value");
      if (b > 1) c.fail("bool value " + std::to_string(b) + " is neither 0 nor 1");
      v.ints.push_back(b);
      return;
    }
    case GgufType::String: v.strings.push_back(c.string("string value")); return;
    case GgufType::Array: c.fail("arrays of arrays are not supported");
  }
}

// Steps over the n elements of an array of `elem` without keeping them.
void skip_elements(Cursor& c, GgufType elem, std::uint64_t n) {
  if (elem != GgufType::String) {
    c.take(n * scalar_size(elem), "array");  // no overflow: count() checked n against the bytes left
    return;
  }
  for (std::uint64_t i = 0; i < n; ++i) c.take(c.read<std::uint64_t>("string value"), "string value");
}

// One metadata value. With keep_arrays false an array's elements are checked for presence
// and skipped (the value keeps its types, no elements): loading a model needs only scalars,
// and a 100 MB array would otherwise take 800 MB as int64s.
GgufValue read_value(Cursor& c, bool keep_arrays) {
  GgufValue v;
  v.type = read_type(c, "value type");
  if (v.type != GgufType::Array) {
    v.elem = v.type;
    read_element(c, v.type, v);
    return v;
  }
  v.elem = read_type(c, "array element type");
  if (v.elem == GgufType::Array) c.fail("arrays of arrays are not supported");
  const std::uint64_t n = c.count(scalar_size(v.elem), "array length");
  if (!keep_arrays) {
    skip_elements(c, v.elem, n);
    return v;
  }
  (v.elem == GgufType::String ? v.strings.reserve(n) : is_float(v.elem) ? v.floats.reserve(n) : v.ints.reserve(n));
  for (std::uint64_t i = 0; i < n; ++i) read_element(c, v.elem, v);
  return v;
}

std::string scalar_text(const GgufValue& v) {
  if (v.type == GgufType::String) return v.strings[0];
  if (v.type == GgufType::Bool) return v.ints[0] ? "true" : "false";
  if (is_float(v.type)) return std::to_string(v.floats[0]);
  if (v.type == GgufType::Uint64) return std::to_string(std::bit_cast<std::uint64_t>(v.ints[0]));
  return std::to_string(v.ints[0]);
}

std::uint64_t align_up(std::uint64_t n, std::uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

std::uint32_t alignment_of(const GgufMetadata& metadata, const std::string& what) {
  const GgufValue* a = gguf_find(metadata, "general.alignment");
  if (!a) return kDefaultAlignment;
  if (a->type != GgufType::Uint32 || a->ints[0] == 0 || !std::has_single_bit(static_cast<std::uint64_t>(a->ints[0])))
    throw Error(what + ": general.alignment must be a uint32 power of two");
  return static_cast<std::uint32_t>(a->ints[0]);
}

DType dtype_of_ggml(std::uint32_t id, const std::string& where) {
  for (const TypeId& t : kTypes)
    if (t.ggml == id) return t.dtype;
  throw Error(where + ": GGML type " + std::to_string(id) +
              " is not supported (supra reads F32 0, F16 1, Q4_0 2, Q8_0 8, BF16 30)");
}

struct RawInfo {
  TensorView view;
  std::uint64_t offset = 0;
};

RawInfo read_tensor_info(Cursor& c, const std::string& what) {
  RawInfo info;
  info.view.name = c.string("tensor name");
  const std::string where = what + ": tensor '" + shorten_text(info.view.name) + "'";
  const auto n_dims = c.read<std::uint32_t>("n_dims");
  if (n_dims == 0 || n_dims > kMaxDims)
    throw Error(where + ": " + std::to_string(n_dims) + " dimensions (1 to " + std::to_string(kMaxDims) + " allowed)");
  std::vector<std::int64_t> ne(n_dims);
  std::uint64_t numel = 1;
  for (auto& d : ne) {
    const auto dim = c.read<std::uint64_t>("dimension");
    const auto product = checked_mul(numel, dim);
    if (!product || *product > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw Error(where + ": its dimensions overflow");
    numel = *product;
    d = static_cast<std::int64_t>(dim);
  }
  // Every stored element takes at least half a byte: more elements than that cannot be in the
  // file, and refusing them early keeps the size arithmetic below far from overflow.
  if (numel / 2 > c.size()) throw Error(where + ": " + std::to_string(numel) + " elements cannot fit in the file");
  info.view.shape.assign(ne.rbegin(), ne.rend());  // GGUF lists the innermost dimension first
  info.view.dtype = dtype_of_ggml(c.read<std::uint32_t>("tensor type"), where);
  info.offset = c.read<std::uint64_t>("tensor offset");
  if (is_block_quantized(info.view.dtype) && ne[0] % kQuantBlock != 0)
    throw Error(where + ": " + std::string(dtype_name(info.view.dtype)) + " rows of " + std::to_string(ne[0]) +
                " elements are not whole blocks of " + std::to_string(kQuantBlock));
  const std::uint64_t rows = ne[0] == 0 ? 0 : numel / static_cast<std::uint64_t>(ne[0]);
  const auto bytes = checked_mul<std::uint64_t>(rows, dtype_row_bytes(info.view.dtype, ne[0]));
  if (!bytes) throw Error(where + ": its size overflows");
  info.view.nbytes = static_cast<std::size_t>(*bytes);
  return info;
}

}  // namespace

GgufValue GgufValue::scalar(GgufType type, std::int64_t v) {
  GgufValue g;
  g.type = g.elem = type;
  g.ints = {v};
  return g;
}
GgufValue GgufValue::f32(float v) {
  GgufValue g;
  g.type = g.elem = GgufType::Float32;
  g.floats = {v};
  return g;
}
GgufValue GgufValue::string(std::string v) {
  GgufValue g;
  g.type = g.elem = GgufType::String;
  g.strings = {std::move(v)};
  return g;
}
GgufValue GgufValue::array(GgufType elem, std::vector<std::int64_t> v) {
  GgufValue g;
  g.type = GgufType::Array;
  g.elem = elem;
  g.ints = std::move(v);
  return g;
}
GgufValue GgufValue::f32_array(std::vector<float> v) {
  GgufValue g;
  g.type = GgufType::Array;
  g.elem = GgufType::Float32;
  g.floats.assign(v.begin(), v.end());
  return g;
}
GgufValue GgufValue::string_array(std::vector<std::string> v) {
  GgufValue g;
  g.type = GgufType::Array;
  g.elem = GgufType::String;
  g.strings = std::move(v);
  return g;
}

std::size_t GgufValue::size() const {
  if (elem == GgufType::String) return strings.size();
  return is_float(elem) ? floats.size() : ints.size();
}

const GgufValue* gguf_find(const GgufMetadata& metadata, std::string_view key) {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

std::uint32_t ggml_type_of(DType t) {
  for (const TypeId& id : kTypes)
    if (id.dtype == t) return id.ggml;
  throw Error("GGUF cannot store " + std::string(dtype_name(t)) + " tensors here (F32, F16, BF16, Q8_0, Q4_0)");
}

namespace {

// Real files hold a few dozen keys (llama.cpp writes under a hundred); each kept key costs a
// few hundred bytes, so a file of millions of tiny keys is refused rather than expanded.
constexpr std::uint64_t kMaxMetadataKeys = 1u << 16;

std::vector<TensorView> parse_gguf_file(std::span<const std::byte> file, const std::string& what,
                                        GgufMetadata* metadata, bool keep_arrays) {
  Cursor c(file, what);
  if (file.size() < 4 || c.read<std::uint32_t>("magic") != kMagic) throw Error(what + ": not a GGUF file (no GGUF magic)");
  const auto version = c.read<std::uint32_t>("version");
  if (version != 2 && version != 3)
    throw Error(what + ": GGUF version " + std::to_string(version) + " is not supported (2 and 3 are)");
  // The least a tensor info takes: name length, n_dims, type, offset.
  const std::uint64_t n_tensors = c.read<std::uint64_t>("tensor count");
  const std::uint64_t n_kv = c.count(8 + 4 + 1, "metadata count");
  if (n_kv > kMaxMetadataKeys)
    c.fail("metadata count " + std::to_string(n_kv) + " exceeds the limit of " + std::to_string(kMaxMetadataKeys) +
           " keys");
  if (n_tensors > c.left() / (8 + 4 + 4 + 8)) c.fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the file");

  GgufMetadata kv;
  kv.reserve(n_kv);
  std::set<std::string> keys;
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.string("metadata key");
    if (!keys.insert(key).second) throw Error(what + ": metadata key '" + shorten_text(key) + "' appears twice");
    GgufValue value = read_value(c, keep_arrays);
    kv.emplace_back(std::move(key), std::move(value));
  }
  const std::uint32_t alignment = alignment_of(kv, what);

  std::vector<RawInfo> infos;
  infos.reserve(n_tensors);
  std::set<std::string> names;
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    infos.push_back(read_tensor_info(c, what));
    if (!names.insert(infos.back().view.name).second)
      throw Error(what + ": tensor '" + infos.back().view.name + "' appears twice");
  }

  const std::uint64_t data_start = align_up(c.pos(), alignment);
  if (n_tensors > 0 && data_start > file.size())
    throw Error(what + ": the data section would start at byte " + std::to_string(data_start) + ", past the end of the " +
                std::to_string(file.size()) + "-byte file (truncated?)");
  const std::uint64_t data_size = n_tensors > 0 ? file.size() - data_start : 0;
  std::vector<TensorView> views;
  views.reserve(infos.size());
  for (RawInfo& info : infos) {
    const std::string where = what + ": tensor '" + info.view.name + "'";
    if (info.offset % alignment != 0)
      throw Error(where + ": offset " + std::to_string(info.offset) + " is not a multiple of the alignment " +
                  std::to_string(alignment));
    const auto end = checked_add<std::uint64_t>(info.offset, info.view.nbytes);
    if (!end || *end > data_size)
      throw Error(where + ": its " + std::to_string(info.view.nbytes) + " bytes at offset " + std::to_string(info.offset) +
                  " fall outside the data section of " + std::to_string(data_size) + " bytes (file truncated?)");
    info.view.data = file.data() + data_start + info.offset;
    views.push_back(std::move(info.view));
  }
  if (metadata) *metadata = std::move(kv);
  return views;
}

}  // namespace

std::vector<TensorView> parse_gguf(std::span<const std::byte> file, const std::string& what, GgufMetadata* metadata) {
  return parse_gguf_file(file, what, metadata, metadata != nullptr);
}

TensorFile open_gguf(const std::filesystem::path& path, GgufMetadata* metadata) {
  MappedFile file(path);
  GgufMetadata kv;
  std::vector<TensorView> views = parse_gguf_file(file.bytes(), path.string(), &kv, metadata != nullptr);
  std::map<std::string, std::string> text;
  for (const auto& [key, value] : kv)
    if (!value.is_array()) text[key] = scalar_text(value);
  if (metadata) *metadata = std::move(kv);
  return TensorFile(std::move(file), std::move(views), std::move(text));
}

namespace {

class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) {}
  template <typename T>
  void put(T v) {
    out_.write(reinterpret_cast<const char*>(&v), sizeof v);
    pos_ += sizeof v;
  }
  void bytes(const void* p, std::size_t n) {
    out_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    pos_ += n;
  }
  void string(const std::string& s) {
    put<std::uint64_t>(s.size());
    bytes(s.data(), s.size());
  }
  void pad_to(std::uint64_t alignment) {
    static constexpr char kZeros[256] = {};
    while (pos_ % alignment != 0) bytes(kZeros, std::min<std::uint64_t>(256, align_up(pos_, alignment) - pos_));
  }
  void element(GgufType t, const GgufValue& v, std::size_t i) {
    switch (t) {
      case GgufType::Uint8: put(static_cast<std::uint8_t>(v.ints[i])); return;
      case GgufType::Int8: put(static_cast<std::int8_t>(v.ints[i])); return;
      case GgufType::Uint16: put(static_cast<std::uint16_t>(v.ints[i])); return;
      case GgufType::Int16: put(static_cast<std::int16_t>(v.ints[i])); return;
      case GgufType::Uint32: put(static_cast<std::uint32_t>(v.ints[i])); return;
      case GgufType::Int32: put(static_cast<std::int32_t>(v.ints[i])); return;
      case GgufType::Uint64: put(std::bit_cast<std::uint64_t>(v.ints[i])); return;
      case GgufType::Int64: put(v.ints[i]); return;
      case GgufType::Bool: put(static_cast<std::uint8_t>(v.ints[i] != 0)); return;
      case GgufType::Float32: put(static_cast<float>(v.floats[i])); return;
      case GgufType::Float64: put(v.floats[i]); return;
      case GgufType::String: string(v.strings[i]); return;
      case GgufType::Array: throw Error("GGUF: arrays of arrays are not supported");
    }
  }

 private:
  std::ostream& out_;
  std::uint64_t pos_ = 0;
};

}  // namespace

void write_gguf(const std::filesystem::path& path, const GgufMetadata& metadata,
                const std::vector<GgufTensorInfo>& tensors,
                const std::function<std::vector<std::byte>(std::size_t)>& tensor_bytes) {
  const std::uint32_t alignment = alignment_of(metadata, path.string());
  std::vector<std::uint64_t> sizes;
  for (const GgufTensorInfo& t : tensors) {
    if (t.shape.empty() || t.shape.size() > kMaxDims)
      throw Error(path.string() + ": tensor '" + t.name + "' must have 1 to 4 dimensions");
    std::int64_t rows = 1;
    for (std::size_t d = 0; d + 1 < t.shape.size(); ++d) rows *= t.shape[d];
    sizes.push_back(static_cast<std::uint64_t>(rows) * dtype_row_bytes(t.dtype, t.shape.back()));
  }
  write_file_atomically(path, [&](std::ostream& out) {
    Writer w(out);
    w.put(kMagic);
    w.put<std::uint32_t>(3);
    w.put<std::uint64_t>(tensors.size());
    w.put<std::uint64_t>(metadata.size());
    for (const auto& [key, value] : metadata) {
      if (value.size() != 1 && !value.is_array()) throw Error("GGUF: scalar '" + key + "' must hold one value");
      w.string(key);
      w.put(static_cast<std::uint32_t>(value.type));
      if (value.is_array()) {
        w.put(static_cast<std::uint32_t>(value.elem));
        w.put<std::uint64_t>(value.size());
      }
      for (std::size_t i = 0; i < value.size(); ++i) w.element(value.elem, value, i);
    }
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const GgufTensorInfo& t = tensors[i];
      w.string(t.name);
      w.put<std::uint32_t>(static_cast<std::uint32_t>(t.shape.size()));
      for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) w.put<std::uint64_t>(static_cast<std::uint64_t>(*d));
      w.put(ggml_type_of(t.dtype));
      w.put(offset);
      offset = align_up(offset + sizes[i], alignment);
    }
    w.pad_to(alignment);
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      const std::vector<std::byte> bytes = tensor_bytes(i);
      if (bytes.size() != sizes[i])
        throw Error(path.string() + ": tensor '" + tensors[i].name + "' has " + std::to_string(bytes.size()) +
                    " bytes, expected " + std::to_string(sizes[i]));
      w.bytes(bytes.data(), bytes.size());
      w.pad_to(alignment);
    }
  });
}

}  // namespace supra
