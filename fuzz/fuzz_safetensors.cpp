// libFuzzer target: the safetensors header and offsets (src/io/safetensors.cpp).
// Any input must either parse into views that lie inside the buffer or throw supra::Error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>

#include "io/safetensors.h"
#include "supra/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  try {
    std::map<std::string, std::string> metadata;
    for (const supra::TensorView& t : supra::parse_safetensors(file, "fuzz input", &metadata)) {
      const bool inside = t.data >= file.data() && t.data + t.nbytes <= file.data() + file.size();
      if (!inside || static_cast<std::size_t>(t.numel()) * supra::dtype_size(t.dtype) != t.nbytes) std::abort();
    }
  } catch (const supra::Error&) {
  }
  return 0;
}
