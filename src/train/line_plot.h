// A small line-plot renderer for the loss curves: axes with "nice" ticks and labels, a light
// grid, one polyline per series and a legend, drawn into an RGB image (written with png_file.h).
// Text uses a built-in 5x7 pixel font holding digits, "+-.:" and lowercase letters.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace supra::train {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  // row-major RGB, 3 bytes per pixel
};

struct PlotSeries {
  std::string name;                             // legend text
  std::vector<std::pair<double, double>> points;  // (x, y); non-finite y are skipped
  std::uint8_t rgb[3] = {0, 0, 0};
  bool markers = false;  // a dot at every point (for sparse series)
};

struct PlotLabels {
  std::string x;
  std::string y;
};

RgbImage render_line_plot(const std::vector<PlotSeries>& series, const PlotLabels& labels, int width = 900,
                          int height = 560);

// Tick positions for [lo, hi]: multiples of 1, 2 or 5 × 10^k, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace supra::train
