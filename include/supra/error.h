// supra::Error: the one exception type the library throws for bad input.
// Messages name the file, field or tensor, what was expected and what was found,
// so that the command line can print a single clear line and exit non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace supra {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace supra
