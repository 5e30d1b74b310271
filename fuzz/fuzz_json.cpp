// libFuzzer target: the JSON reader every untrusted JSON file goes through (src/io/json_file.cpp):
// the depth pre-scan, nlohmann's parser behind it, and the bounded quoting of values in errors.
// Any input must parse or throw supra::Error; a parsed value must quote to a short string.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "io/json_file.h"
#include "supra/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const nlohmann::json value = supra::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    if (supra::quote_json(value).size() > 83) std::abort();
    (void)value.dump();  // safe: the depth is bounded
  } catch (const supra::Error&) {
  }
  return 0;
}
