#include "train/png_file.h"

#include <png.h>

#include <string>
#include <vector>

#include "io/atomic_file.h"
#include "supra/error.h"

namespace supra::train {

void write_png(const std::filesystem::path& path, const RgbImage& image) {
  // libpng's simplified API: no setjmp/longjmp across C++ frames.
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_get_memory_size(png, size, 0, image.pixels.data(), 0, nullptr))
    throw Error("cannot encode " + path.string() + ": " + png.message);
  std::vector<char> bytes(size);
  if (!png_image_write_to_memory(&png, bytes.data(), &size, 0, image.pixels.data(), 0, nullptr))
    throw Error("cannot encode " + path.string() + ": " + png.message);
  write_file_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(size)); });
}

}  // namespace supra::train
