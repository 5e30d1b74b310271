// An RFC 4180 CSV parser: comma-separated fields, records ended by CRLF or LF; a field
// in double quotes may hold commas, CR, LF and doubled quotes (""), all kept as they are.
// MMLU's questions and choices need exactly this (a line-based reader would split them).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace supra::eval {

struct CsvRecord {
  std::vector<std::string> fields;
  std::int64_t line = 0;  // 1-based line where the record starts
};

// `name` (the file) prefixes error messages: a quote inside an unquoted field, text after
// a closing quote, a CR outside quotes not followed by LF, or a quoted field left open at
// the end. A final line ending is optional; an empty text has no records.
std::vector<CsvRecord> parse_csv(std::string_view text, const std::string& name);

}  // namespace supra::eval
