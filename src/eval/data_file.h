// Reading the evaluation data files and naming places in them for error messages.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace supra::eval {

// The whole file as bytes; a missing or unreadable file is a supra::Error naming it.
std::string read_data_file(const std::filesystem::path& path);

// "path:line" (line counted from 1), the prefix of every message about a data row.
std::string where(const std::filesystem::path& path, std::int64_t line);

// The lines of a text file without their "\n" (and without a "\r" before it). A final
// newline ends the last line; it does not start an empty one.
std::vector<std::string_view> split_lines(std::string_view text);

}  // namespace supra::eval
