#include "eval/python_text.h"

namespace supra::eval {
namespace {

bool is_continuation_byte(unsigned char b) { return (b & 0xC0) == 0x80; }

// The code point of the well-formed UTF-8 sequence `bytes`, or U+FFFD (not a space) for
// anything else: invalid bytes are never whitespace, so they are never stripped.
char32_t decode(std::string_view bytes) {
  auto b0 = static_cast<unsigned char>(bytes[0]);
  std::size_t n = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || bytes.size() != n) return 0xFFFD;
  if (n == 1) return b0;
  char32_t c = b0 & (0x7F >> n);
  for (std::size_t i = 1; i < n; ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    if (!is_continuation_byte(b)) return 0xFFFD;
    c = (c << 6) | (b & 0x3F);
  }
  return c;
}

// Byte length of the sequence starting at text[0] (a lone continuation byte counts as one).
std::size_t sequence_length(std::string_view text) {
  std::size_t n = 1;
  while (n < text.size() && n < 4 && is_continuation_byte(static_cast<unsigned char>(text[n]))) ++n;
  return n;
}

// Start of the last sequence of non-empty text.
std::size_t last_sequence_start(std::string_view text) {
  std::size_t i = text.size() - 1;
  while (i > 0 && text.size() - i < 4 && is_continuation_byte(static_cast<unsigned char>(text[i]))) --i;
  return i;
}

}  // namespace

bool is_python_space(char32_t c) {
  // Python's whitespace: bidirectional class WS, B or S, or general category Zs.
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

std::size_t python_rstrip_size(std::string_view text) {
  while (!text.empty()) {
    std::size_t start = last_sequence_start(text);
    if (!is_python_space(decode(text.substr(start)))) break;
    text = text.substr(0, start);
  }
  return text.size();
}

std::string_view python_strip(std::string_view text) {
  text = text.substr(0, python_rstrip_size(text));
  while (!text.empty()) {
    std::size_t n = sequence_length(text);
    if (!is_python_space(decode(text.substr(0, n)))) break;
    text.remove_prefix(n);
  }
  return text;
}

}  // namespace supra::eval
