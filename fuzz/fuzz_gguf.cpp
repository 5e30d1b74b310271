// libFuzzer target: the GGUF header, metadata, tensor infos and offsets (src/io/gguf.cpp).
// Any input must either parse into views that lie inside the buffer, with sizes matching
// their type and shape, or throw supra::Error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "io/gguf.h"
#include "supra/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> file(reinterpret_cast<const std::byte*>(data), size);
  try {
    supra::GgufMetadata metadata;
    for (const supra::TensorView& t : supra::parse_gguf(file, "fuzz input", &metadata)) {
      const bool inside = t.data >= file.data() && t.data + t.nbytes <= file.data() + file.size();
      const std::int64_t cols = t.shape.back();
      const std::size_t rows = cols == 0 ? 0 : static_cast<std::size_t>(t.numel() / cols);
      if (!inside || rows * supra::dtype_row_bytes(t.dtype, cols) != t.nbytes) std::abort();
    }
    for (const auto& [key, value] : metadata)
      if (value.size() != (value.is_array() ? value.size() : 1)) std::abort();
  } catch (const supra::Error&) {
  }
  return 0;
}
