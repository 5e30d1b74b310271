// The one way supra reads JSON that comes from outside (model folders, data files, and any
// other untrusted text): a size cap on the file, a nesting-depth limit checked before the
// parser builds anything (deeply nested values crash nlohmann's recursive copy and dump), and
// error messages that quote at most a short excerpt of the input.
#pragma once
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace supra {

// Real configuration files nest 3 to 5 levels; 64 leaves room for any of them and keeps every
// recursive walk of a parsed value (nlohmann's copy, dump, destruction) shallow.
inline constexpr int kMaxJsonDepth = 64;

// config.json, generation_config.json, tokenizer_config.json, index files: kilobytes in
// practice (a sharded 70B index is ~60 KB).
inline constexpr std::size_t kMaxJsonFileBytes = 16u << 20;

// Throws supra::Error "WHAT: JSON nested deeper than N levels" when arrays and objects in
// `text` nest deeper than max_depth. One linear pass over the bytes (brackets inside strings do
// not count); it does not validate anything else.
void check_json_depth(std::string_view text, const std::string& what, int max_depth = kMaxJsonDepth);

// Parses `text` after check_json_depth. Any parse error or a number out of range is a
// supra::Error "WHAT: invalid JSON: <the parser's reason, cut short>". Safe for untrusted text
// (the HTTP server's request bodies included).
nlohmann::json parse_json(std::string_view text, const std::string& what, int max_depth = kMaxJsonDepth);

// Reads and parses the regular file at `path` (see input_file.h: FIFOs, devices and files over
// `max_bytes` are refused); errors name the path.
nlohmann::json read_json_file(const std::filesystem::path& path, std::size_t max_bytes = kMaxJsonFileBytes);

// `text` for an error message: at most about `max_chars` bytes of it, cut with "..." (a name
// read from a file can be megabytes long).
std::string shorten_text(std::string_view text, std::size_t max_chars = 80);

// `value` as compact JSON for an error message, cut after about `max_chars` characters ("...").
std::string quote_json(const nlohmann::json& value, std::size_t max_chars = 80);

}  // namespace supra
