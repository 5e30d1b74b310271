#include "train/line_plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace supra::train {
namespace {

// 5x7 glyphs, one string per row, '#' = ink.
struct Glyph {
  char c;
  std::array<const char*, 7> rows;
};

constexpr Glyph kFont[] = {
    {'0', {" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "}},
    {'1', {"  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "}},
    {'2', {" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"}},
    {'3', {"#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "}},
    {'4', {"   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "}},
    {'5', {"#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "}},
    {'6', {"  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "}},
    {'7', {"#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "}},
    {'8', {" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "}},
    {'9', {" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "}},
    {'.', {"     ", "     ", "     ", "     ", "     ", " ##  ", " ##  "}},
    {'-', {"     ", "     ", "     ", "#####", "     ", "     ", "     "}},
    {'+', {"     ", "  #  ", "  #  ", "#####", "  #  ", "  #  ", "     "}},
    {':', {"     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     "}},
    {'a', {"     ", "     ", " ### ", "    #", " ####", "#   #", " ####"}},
    {'b', {"#    ", "#    ", "# ## ", "##  #", "#   #", "#   #", "#### "}},
    {'c', {"     ", "     ", " ### ", "#    ", "#    ", "#   #", " ### "}},
    {'d', {"    #", "    #", " ## #", "#  ##", "#   #", "#   #", " ####"}},
    {'e', {"     ", "     ", " ### ", "#   #", "#####", "#    ", " ### "}},
    {'f', {"  ## ", " #  #", " #   ", "###  ", " #   ", " #   ", " #   "}},
    {'g', {"     ", " ####", "#   #", "#   #", " ####", "    #", " ### "}},
    {'h', {"#    ", "#    ", "# ## ", "##  #", "#   #", "#   #", "#   #"}},
    {'i', {"  #  ", "     ", " ##  ", "  #  ", "  #  ", "  #  ", " ### "}},
    {'j', {"   # ", "     ", "  ## ", "   # ", "   # ", "#  # ", " ##  "}},
    {'k', {"#    ", "#    ", "#  # ", "# #  ", "##   ", "# #  ", "#  # "}},
    {'l', {" ##  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "}},
    {'m', {"     ", "     ", "## # ", "# # #", "# # #", "#   #", "#   #"}},
    {'n', {"     ", "     ", "# ## ", "##  #", "#   #", "#   #", "#   #"}},
    {'o', {"     ", "     ", " ### ", "#   #", "#   #", "#   #", " ### "}},
    {'p', {"     ", "     ", "#### ", "#   #", "#### ", "#    ", "#    "}},
    {'q', {"     ", "     ", " ## #", "#  ##", " ####", "    #", "    #"}},
    {'r', {"     ", "     ", "# ## ", "##  #", "#    ", "#    ", "#    "}},
    {'s', {"     ", "     ", " ####", "#    ", " ### ", "    #", "#### "}},
    {'t', {" #   ", " #   ", "###  ", " #   ", " #   ", " #  #", "  ## "}},
    {'u', {"     ", "     ", "#   #", "#   #", "#   #", "#  ##", " ## #"}},
    {'v', {"     ", "     ", "#   #", "#   #", "#   #", " # # ", "  #  "}},
    {'w', {"     ", "     ", "#   #", "#   #", "# # #", "# # #", " # # "}},
    {'x', {"     ", "     ", "#   #", " # # ", "  #  ", " # # ", "#   #"}},
    {'y', {"     ", "     ", "#   #", "#   #", " ####", "    #", " ### "}},
    {'z', {"     ", "     ", "#####", "   # ", "  #  ", " #   ", "#####"}},
};

constexpr int kScale = 2;                       // pixels per font dot
constexpr int kCharWidth = 6 * kScale;          // 5 dots + 1 spacing
constexpr int kCharHeight = 7 * kScale;

class Canvas {
 public:
  Canvas(int w, int h) { img_.width = w, img_.height = h, img_.pixels.assign(static_cast<std::size_t>(w) * h * 3, 255); }

  void pixel(int x, int y, const std::uint8_t* rgb) {
    if (x < 0 || y < 0 || x >= img_.width || y >= img_.height) return;
    std::uint8_t* p = &img_.pixels[(static_cast<std::size_t>(y) * img_.width + x) * 3];
    p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
  }
  void rect(int x0, int y0, int x1, int y1, const std::uint8_t* rgb) {
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) pixel(x, y, rgb);
  }
  // Bresenham, `thick` pixels wide.
  void line(int x0, int y0, int x1, int y1, const std::uint8_t* rgb, int thick = 1) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    for (int err = dx + dy;;) {
      rect(x0 - thick / 2, y0 - thick / 2, x0 + (thick - 1) / 2, y0 + (thick - 1) / 2, rgb);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) err += dy, x0 += sx;
      if (e2 <= dx) err += dx, y0 += sy;
    }
  }
  // Text with its top-left corner at (x, y); characters without a glyph are left blank.
  void text(int x, int y, const std::string& s, const std::uint8_t* rgb) {
    for (char ch : s) {
      for (const Glyph& g : kFont) {
        if (g.c != ch) continue;
        for (int r = 0; r < 7; ++r)
          for (int c = 0; c < 5; ++c)
            if (g.rows[static_cast<std::size_t>(r)][c] == '#')
              rect(x + c * kScale, y + r * kScale, x + c * kScale + kScale - 1, y + r * kScale + kScale - 1, rgb);
      }
      x += kCharWidth;
    }
  }
  // Text rotated a quarter turn counter-clockwise (reads bottom to top), for the y label.
  void text_vertical(int x, int y_bottom, const std::string& s, const std::uint8_t* rgb) {
    int y = y_bottom;
    for (char ch : s) {
      for (const Glyph& g : kFont) {
        if (g.c != ch) continue;
        for (int r = 0; r < 7; ++r)
          for (int c = 0; c < 5; ++c)
            if (g.rows[static_cast<std::size_t>(r)][c] == '#')
              rect(x + r * kScale, y - c * kScale - kScale + 1, x + r * kScale + kScale - 1, y - c * kScale, rgb);
      }
      y -= kCharWidth;
    }
  }
  RgbImage take() { return std::move(img_); }

 private:
  RgbImage img_;
};

std::string tick_text(double v, double step) {
  char s[32];
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3))
    std::snprintf(s, sizeof s, "%.2g", v);
  else {
    // As many decimals as the tick step needs.
    const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    std::snprintf(s, sizeof s, "%.*f", decimals, v);
  }
  return s;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || target < 1) return ticks;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  // The candidate whose tick count is closest to the target.
  double step = mag;
  for (double m : {2.0, 5.0, 10.0})
    if (std::fabs((hi - lo) / (m * mag) - target) < std::fabs((hi - lo) / step - target)) step = m * mag;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

RgbImage render_line_plot(const std::vector<PlotSeries>& series, const PlotLabels& labels, int width, int height) {
  Canvas cv(width, height);
  const std::uint8_t black[3] = {0, 0, 0}, grid[3] = {225, 225, 225};
  const int left = 110, right = width - 30, top = 30, bottom = height - 70;

  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const PlotSeries& s : series)
    for (auto [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x), y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  if (!(x_lo <= x_hi)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // nothing to draw: empty axes
  if (x_hi == x_lo) x_lo -= 1, x_hi += 1;
  if (y_hi == y_lo) y_lo -= 0.5, y_hi += 0.5;
  const double pad = 0.05 * (y_hi - y_lo);
  y_lo -= pad, y_hi += pad;
  auto px = [&](double x) { return left + static_cast<int>(std::lround((x - x_lo) / (x_hi - x_lo) * (right - left))); };
  auto py = [&](double y) { return bottom - static_cast<int>(std::lround((y - y_lo) / (y_hi - y_lo) * (bottom - top))); };

  const std::vector<double> xt = nice_ticks(x_lo, x_hi, 8), yt = nice_ticks(y_lo, y_hi, 6);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double t : xt) {
    const int x = px(t);
    cv.line(x, top, x, bottom, grid);
    cv.line(x, bottom, x, bottom + 6, black);
    const std::string s = tick_text(t, xstep);
    cv.text(x - static_cast<int>(s.size()) * kCharWidth / 2, bottom + 12, s, black);
  }
  for (double t : yt) {
    const int y = py(t);
    cv.line(left, y, right, y, grid);
    cv.line(left - 6, y, left, y, black);
    const std::string s = tick_text(t, ystep);
    cv.text(left - 12 - static_cast<int>(s.size()) * kCharWidth, y - kCharHeight / 2, s, black);
  }
  cv.line(left, top, left, bottom, black);
  cv.line(left, bottom, right, bottom, black);
  cv.text((left + right) / 2 - static_cast<int>(labels.x.size()) * kCharWidth / 2, height - kCharHeight - 8, labels.x,
          black);
  cv.text_vertical(8, (top + bottom) / 2 + static_cast<int>(labels.y.size()) * kCharWidth / 2, labels.y, black);

  for (const PlotSeries& s : series) {
    bool have_prev = false;
    int prev_x = 0, prev_y = 0;
    for (auto [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      const int cx = px(x), cy = py(y);
      if (have_prev) cv.line(prev_x, prev_y, cx, cy, s.rgb, 2);
      if (s.markers) cv.rect(cx - 3, cy - 3, cx + 3, cy + 3, s.rgb);
      prev_x = cx, prev_y = cy, have_prev = true;
    }
  }
  // Legend, top right: a colour bar and the name per series.
  int ly = top + 10;
  for (const PlotSeries& s : series) {
    const int lx = right - 20 - static_cast<int>(s.name.size()) * kCharWidth - 40;
    cv.rect(lx, ly + kCharHeight / 2 - 2, lx + 28, ly + kCharHeight / 2 + 1, s.rgb);
    cv.text(lx + 36, ly, s.name, black);
    ly += kCharHeight + 8;
  }
  return cv.take();
}

}  // namespace supra::train
