#include "tokenizer/special_tokens.h"

#include <nlohmann/json.hpp>
#include <string>

#include "io/json_file.h"
#include "supra/error.h"

namespace supra::tokenizer_detail {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// nullopt when the file does not exist: every side file is optional in HF folders.
std::optional<json> read_json(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  json doc = read_json_file(path);
  if (!doc.is_object()) throw Error(path.string() + ": expected a JSON object at the top level");
  return doc;
}

[[noreturn]] void wrong_type(const fs::path& path, const char* field, const char* expected,
                             const json& found) {
  throw Error(path.string() + ": field '" + field + "' should be " + expected + ", found " +
              quote_json(found));
}

// null counts as absent: HF writes "pad_token_id": null and the like.
void read_bool(const json& doc, const fs::path& path, const char* field, bool& out) {
  auto it = doc.find(field);
  if (it == doc.end() || it->is_null()) return;
  if (!it->is_boolean()) wrong_type(path, field, "true or false", *it);
  out = it->get<bool>();
}

TokenId to_id(const json& value, const fs::path& path, const char* field, int vocab_size) {
  if (!value.is_number_integer()) wrong_type(path, field, "a token id (an integer)", value);
  const long long id = value.get<long long>();
  if (id < 0 || id >= vocab_size)
    throw Error(path.string() + ": field '" + field + "' is " + std::to_string(id) +
                ", outside the tokenizer's " + std::to_string(vocab_size) + " ids");
  return static_cast<TokenId>(id);
}

void read_ids(const json& doc, const fs::path& path, int vocab_size, SpecialTokens& out) {
  if (auto it = doc.find("bos_token_id"); it != doc.end() && !it->is_null())
    out.bos = to_id(*it, path, "bos_token_id", vocab_size);
  auto it = doc.find("eos_token_id");
  if (it == doc.end() || it->is_null()) return;
  std::vector<TokenId> ids;
  if (it->is_array()) {
    for (const json& v : *it) ids.push_back(to_id(v, path, "eos_token_id", vocab_size));
    if (ids.empty()) wrong_type(path, "eos_token_id", "an id or a non-empty list of ids", *it);
  } else {
    ids.push_back(to_id(*it, path, "eos_token_id", vocab_size));
  }
  out.eos = std::move(ids);
}

}  // namespace

SpecialTokens read_special_tokens(const fs::path& folder, int vocab_size) {
  SpecialTokens out;
  const fs::path tokenizer_config = folder / "tokenizer_config.json";
  if (auto doc = read_json(tokenizer_config)) {
    read_bool(*doc, tokenizer_config, "add_bos_token", out.add_bos);
    read_bool(*doc, tokenizer_config, "add_eos_token", out.add_eos);
  }
  for (const char* name : {"config.json", "generation_config.json"}) {
    const fs::path path = folder / name;
    if (auto doc = read_json(path)) read_ids(*doc, path, vocab_size, out);
  }
  return out;
}

}  // namespace supra::tokenizer_detail
