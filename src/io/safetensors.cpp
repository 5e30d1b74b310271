#include "io/safetensors.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "io/atomic_file.h"
#include "io/bytes.h"
#include "io/json_file.h"
#include "supra/error.h"

namespace supra {

namespace {

// A plain (std::map) object: ordered_json's inserts search linearly, which made a header of a
// million entries take minutes. File order is restored from the data offsets.
using json = nlohmann::json;

// Larger headers are not produced by any real writer; refusing them bounds the JSON parse.
constexpr std::uint64_t kMaxHeaderBytes = 100u * 1000u * 1000u;

constexpr DType kAllDTypes[] = {DType::F32, DType::F16, DType::BF16, DType::F64, DType::I64,
                                DType::I32, DType::I16, DType::I8,   DType::U8,  DType::Bool};

DType parse_dtype(const std::string& name, const std::string& where) {
  for (DType t : kAllDTypes)
    if (dtype_name(t) == name) return t;
  throw Error(where + ": unknown dtype \"" + name + "\"");
}

// The one tensor entry of the header named `name`, checked against the data section.
TensorView parse_entry(const std::string& name, const json& entry, std::span<const std::byte> data,
                       const std::string& what) {
  const std::string where = what + ": tensor '" + shorten_text(name) + "'";
  if (!entry.is_object()) throw Error(where + ": header entry is not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) throw Error(where + ": header entry has no \"" + key + "\"");

  const json& dtype = entry["dtype"];
  if (!dtype.is_string()) throw Error(where + ": \"dtype\" is not a string");
  TensorView view;
  view.name = name;
  view.dtype = parse_dtype(dtype.get<std::string>(), where);

  const json& shape = entry["shape"];
  if (!shape.is_array()) throw Error(where + ": \"shape\" is not an array");
  std::uint64_t numel = 1;
  for (const json& d : shape) {
    if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
      throw Error(where + ": shape " + quote_json(shape) +
                  " has a dimension that is not a non-negative integer");
    const auto dim = static_cast<std::uint64_t>(d.get<std::int64_t>());
    auto product = checked_mul(numel, dim);
    if (!product || *product > static_cast<std::uint64_t>(INT64_MAX))
      throw Error(where + ": shape " + quote_json(shape) + " overflows");
    numel = *product;
    view.shape.push_back(static_cast<std::int64_t>(dim));
  }

  const json& offsets = entry["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    throw Error(where + ": \"data_offsets\" is not [begin, end] with non-negative integers, got " +
                quote_json(offsets));
  const auto begin = offsets[0].get<std::uint64_t>();
  const auto end = offsets[1].get<std::uint64_t>();
  if (begin > end || end > data.size())
    throw Error(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                "] fall outside the data section of " + std::to_string(data.size()) +
                " bytes (file truncated?)");
  const auto expected = checked_mul<std::uint64_t>(numel, dtype_size(view.dtype));
  if (!expected || *expected != end - begin)
    throw Error(where + ": " + std::string(dtype_name(view.dtype)) + " " + view.shape_string() +
                " needs " + (expected ? std::to_string(*expected) : std::string("too many")) +
                " bytes but data_offsets span " + std::to_string(end - begin));
  view.data = data.data() + begin;
  view.nbytes = static_cast<std::size_t>(end - begin);
  return view;
}

void parse_metadata(const json& meta, const std::string& what,
                    std::map<std::string, std::string>* metadata) {
  if (!meta.is_object()) throw Error(what + ": \"__metadata__\" is not an object");
  for (const auto& [key, value] : meta.items()) {
    if (!value.is_string())
      throw Error(what + ": \"__metadata__\" value for \"" + shorten_text(key) + "\" is not a string");
    if (metadata) (*metadata)[key] = value.get<std::string>();
  }
}

}  // namespace

std::vector<TensorView> parse_safetensors(std::span<const std::byte> file, const std::string& what,
                                          std::map<std::string, std::string>* metadata) {
  if (file.size() < 8)
    throw Error(what + ": not a safetensors file: " + std::to_string(file.size()) +
                " bytes is too short for the 8-byte header length (file truncated?)");
  const auto header_len = load_le<std::uint64_t>(file.data());
  if (header_len > kMaxHeaderBytes)
    throw Error(what + ": safetensors header length " + std::to_string(header_len) +
                " exceeds the 100 MB limit (not a safetensors file?)");
  if (header_len > file.size() - 8)
    throw Error(what + ": safetensors header length " + std::to_string(header_len) +
                " exceeds the file size " + std::to_string(file.size()) + " (file truncated?)");
  const auto* header_begin = reinterpret_cast<const char*>(file.data() + 8);

  const json header = parse_json(std::string_view(header_begin, static_cast<std::size_t>(header_len)),
                                 what + ": safetensors header");
  if (!header.is_object()) throw Error(what + ": safetensors header is not a JSON object");

  const std::span<const std::byte> data = file.subspan(8 + header_len);
  std::vector<TensorView> views;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__")
      parse_metadata(entry, what, metadata);
    else
      views.push_back(parse_entry(name, entry, data, what));
  }
  // File order (the order a writer laid the tensors out); ties (empty tensors) by name.
  std::stable_sort(views.begin(), views.end(),
                   [](const TensorView& a, const TensorView& b) { return a.data < b.data; });
  return views;
}

TensorFile open_safetensors(const std::filesystem::path& path) {
  MappedFile file(path);
  std::map<std::string, std::string> metadata;
  std::vector<TensorView> views = parse_safetensors(file.bytes(), path.string(), &metadata);
  return TensorFile(std::move(file), std::move(views), std::move(metadata));
}

void save_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps the tensors in the order their bytes are written.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  std::uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    const std::string where = path.string() + ": tensor '" + t.name + "'";
    if (t.name.empty() || t.name == "__metadata__") throw Error(where + ": invalid tensor name");
    if (!seen.insert(t.name).second) throw Error(where + ": duplicate tensor name");
    std::uint64_t numel = 1;
    for (std::int64_t d : t.shape) {
      if (d < 0) throw Error(where + ": negative dimension");
      numel *= static_cast<std::uint64_t>(d);
    }
    if (numel * dtype_size(t.dtype) != t.bytes.size())
      throw Error(where + ": shape needs " + std::to_string(numel * dtype_size(t.dtype)) +
                  " bytes, got " + std::to_string(t.bytes.size()));
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  write_file_atomically(path, [&](std::ostream& out) {
    const std::uint64_t len = text.size();
    out.write(reinterpret_cast<const char*>(&len), sizeof len);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const TensorToWrite& t : tensors)
      out.write(reinterpret_cast<const char*>(t.bytes.data()),
                static_cast<std::streamsize>(t.bytes.size()));
  });
}

}  // namespace supra
