// JSON Lines files (one JSON object per line) and typed access to their fields, with
// errors that name the file and line.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace supra::eval {

struct JsonlRow {
  nlohmann::json value;  // an object
  std::int64_t line = 0;  // 1-based line in the file
};

// Every line must hold one JSON object; an empty line (other than after the final
// newline) is an error, since it would shift the row numbers that are doc ids.
std::vector<JsonlRow> read_jsonl(const std::filesystem::path& path);

// Field accessors: a missing field or one of another type throws naming path:line.
std::string string_field(const JsonlRow& row, const char* key, const std::filesystem::path& path);
std::int64_t int_field(const JsonlRow& row, const char* key, const std::filesystem::path& path);
std::vector<std::string> string_list_field(const JsonlRow& row, const char* key,
                                           const std::filesystem::path& path);

}  // namespace supra::eval
