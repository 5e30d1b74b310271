// libFuzzer target: reading a state file (supra::StateCodec, src/model/state_file.cpp) of the
// shipped model: anything but a valid file must be an InvalidStateFile, before any allocation
// that the bytes do not justify.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "supra/model.h"
#include "supra/state_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const supra::Model model = supra::Model::load(SUPRA_FUZZ_MODEL);
  static const supra::StateCodec codec(model);
  try {
    codec.decode(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const supra::InvalidStateFile&) {
  }
  return 0;
}
