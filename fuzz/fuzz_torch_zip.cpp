// libFuzzer target: the torch zip container and the restricted unpickler behind it
// (src/io/zip_archive.cpp, torch_zip.cpp, pickle.cpp). Views must lie inside the buffer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "io/torch_zip.h"
#include "supra/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> archive(reinterpret_cast<const std::byte*>(data), size);
  try {
    for (const supra::TensorView& t : supra::parse_torch_zip(archive, "fuzz input")) {
      const bool inside = t.data >= archive.data() && t.data + t.nbytes <= archive.data() + archive.size();
      if (!inside) std::abort();
    }
  } catch (const supra::Error&) {
  }
  return 0;
}
