#include "io/json_file.h"

#include "io/input_file.h"
#include "supra/error.h"

namespace supra {

namespace {

// Cuts `text` to at most `max_chars` bytes (not inside a UTF-8 sequence) and marks the cut.
std::string shorten(std::string text, std::size_t max_chars) {
  if (text.size() <= max_chars) return text;
  std::size_t end = max_chars;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0u) == 0x80u) --end;
  text.resize(end);
  return text + "...";
}

// Appends `value` to `out`, stopping early once `out` is longer than `limit`: an error message
// never serializes a whole large value.
void append_json(const nlohmann::json& value, std::string& out, std::size_t limit) {
  if (value.is_object() || value.is_array()) {
    const bool object = value.is_object();
    out += object ? '{' : '[';
    bool first = true;
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (out.size() > limit) return;
      if (!first) out += ',';
      first = false;
      if (object) out += nlohmann::json(it.key()).dump() + ':';
      append_json(*it, out, limit);
    }
    out += object ? '}' : ']';
    return;
  }
  out += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void check_json_depth(std::string_view text, const std::string& what, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth)
          throw Error(what + ": JSON nested deeper than " + std::to_string(max_depth) + " levels (at byte " +
                      std::to_string(i) + ")");
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
}

nlohmann::json parse_json(std::string_view text, const std::string& what, int max_depth) {
  check_json_depth(text, what, max_depth);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for a number overflow
    // The parser's message quotes the token it stopped in, which can be a megabyte-long string.
    throw Error(what + ": invalid JSON: " + shorten(e.what(), 200));
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path, std::size_t max_bytes) {
  return parse_json(read_small_file(path, max_bytes), path.string());
}

std::string shorten_text(std::string_view text, std::size_t max_chars) {
  return shorten(std::string(text.substr(0, max_chars + 1)), max_chars);
}

std::string quote_json(const nlohmann::json& value, std::size_t max_chars) {
  std::string out;
  append_json(value, out, max_chars);
  return shorten(std::move(out), max_chars);
}

}  // namespace supra
