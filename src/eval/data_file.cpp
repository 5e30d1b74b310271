#include "eval/data_file.h"

#include "io/input_file.h"
#include "supra/error.h"

namespace supra::eval {

std::string read_data_file(const std::filesystem::path& path) {
  // The largest benchmark file is tens of MB; a FIFO or a device is refused before it blocks.
  constexpr std::size_t kMaxDataFileBytes = std::size_t{1} << 30;
  return read_small_file(path, kMaxDataFileBytes);
}

std::string where(const std::filesystem::path& path, std::int64_t line) {
  return path.string() + ":" + std::to_string(line);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

}  // namespace supra::eval
