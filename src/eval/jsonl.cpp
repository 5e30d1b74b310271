#include "eval/jsonl.h"

#include "eval/data_file.h"
#include "io/json_file.h"
#include "supra/error.h"

namespace supra::eval {
namespace {

const nlohmann::json& field(const JsonlRow& row, const char* key, const std::filesystem::path& path) {
  auto it = row.value.find(key);
  if (it == row.value.end()) throw Error(where(path, row.line) + ": missing field \"" + key + "\"");
  return *it;
}

[[noreturn]] void wrong_type(const JsonlRow& row, const char* key, const std::filesystem::path& path,
                             const char* expected) {
  throw Error(where(path, row.line) + ": field \"" + key + "\" is not " + expected);
}

}  // namespace

std::vector<JsonlRow> read_jsonl(const std::filesystem::path& path) {
  std::string text = read_data_file(path);
  std::vector<JsonlRow> rows;
  std::int64_t line_number = 0;
  for (std::string_view line : split_lines(text)) {
    ++line_number;
    if (line.empty()) throw Error(where(path, line_number) + ": empty line in a JSON Lines file");
    JsonlRow row;
    row.line = line_number;
    // Each line gets the depth limit of io/json_file.h before the parser builds anything.
    check_json_depth(line, where(path, line_number));
    try {
      row.value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number overflow
      throw Error(where(path, line_number) + ": bad JSON: " + shorten_text(e.what(), 200));
    }
    if (!row.value.is_object()) throw Error(where(path, line_number) + ": not a JSON object");
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string string_field(const JsonlRow& row, const char* key, const std::filesystem::path& path) {
  const nlohmann::json& v = field(row, key, path);
  if (!v.is_string()) wrong_type(row, key, path, "a string");
  return v.get<std::string>();
}

std::int64_t int_field(const JsonlRow& row, const char* key, const std::filesystem::path& path) {
  const nlohmann::json& v = field(row, key, path);
  if (!v.is_number_integer()) wrong_type(row, key, path, "an integer");
  return v.get<std::int64_t>();
}

std::vector<std::string> string_list_field(const JsonlRow& row, const char* key,
                                           const std::filesystem::path& path) {
  const nlohmann::json& v = field(row, key, path);
  if (!v.is_array()) wrong_type(row, key, path, "a list of strings");
  std::vector<std::string> out;
  for (const nlohmann::json& item : v) {
    if (!item.is_string()) wrong_type(row, key, path, "a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace supra::eval
