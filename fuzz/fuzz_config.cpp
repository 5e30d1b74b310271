// libFuzzer target: config.json parsing and validation (src/model/config.cpp).
#include <cstddef>
#include <cstdint>
#include <string>

#include "supra/config.h"
#include "supra/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const supra::ModelConfig c =
        supra::ModelConfig::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz input");
    (void)c.parameter_count();
    (void)c.summary();
  } catch (const supra::Error&) {
  }
  return 0;
}
