// libFuzzer target: importing a state file (src/serve/state_format.cpp), against the shipped
// model's shape: anything but a valid file must be an ApiError 400, before any allocation
// that the body does not justify.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "serve/api_error.h"
#include "serve/state_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const supra::Model model = supra::Model::load(SUPRA_FUZZ_MODEL);
  static const supra::serve::StateShape shape = supra::serve::measure_state_shape(model);
  static const std::uint64_t fingerprint = supra::serve::model_fingerprint(model.config());
  try {
    supra::serve::import_state(std::string_view(reinterpret_cast<const char*>(data), size), fingerprint, shape,
                               model.config().vocab_size);
  } catch (const supra::serve::ApiError& e) {
    if (e.status() != 400) __builtin_trap();
  }
  return 0;
}
