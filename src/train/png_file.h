// Writing an RGB image as a PNG file (libpng), atomically.
#pragma once
#include <filesystem>

#include "train/line_plot.h"

namespace supra::train {

void write_png(const std::filesystem::path& path, const RgbImage& image);

}  // namespace supra::train
