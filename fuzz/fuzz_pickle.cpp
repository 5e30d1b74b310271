// libFuzzer target: the restricted unpickler alone (src/io/pickle.cpp), so that mutations
// reach opcode handling directly instead of being spent on the zip container.
#include <cstddef>
#include <cstdint>
#include <span>

#include "io/pickle.h"
#include "supra/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    supra::unpickle_state_dict(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz input");
  } catch (const supra::Error&) {
  }
  return 0;
}
