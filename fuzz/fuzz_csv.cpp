// libFuzzer target: the RFC 4180 CSV reader used for MMLU's data files (src/eval/csv.cpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eval/csv.h"
#include "supra/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    supra::eval::parse_csv(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz input");
  } catch (const supra::Error&) {
  }
  return 0;
}
