// The few Python str operations lm-eval applies to prompts, on UTF-8 bytes: strip() and
// rstrip() remove Unicode whitespace (str.isspace), not just ASCII blanks.
#pragma once
#include <cstddef>
#include <string_view>

namespace supra::eval {

// Python's str.isspace() for one code point.
bool is_python_space(char32_t c);

// Length in bytes of text.rstrip() (a prefix of text).
std::size_t python_rstrip_size(std::string_view text);

// text.strip(), as a view into text.
std::string_view python_strip(std::string_view text);

}  // namespace supra::eval
