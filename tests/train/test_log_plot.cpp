// The training log (CSV) and the loss plot (renderer + PNG file).
#include <gtest/gtest.h>
#include <png.h>

#include <cmath>

#include "supra/error.h"
#include "train/line_plot.h"
#include "train/png_file.h"
#include "train/train_log.h"
#include "train_helpers.h"

namespace supra::test::train_tests {
namespace {

using namespace supra::train;

TEST(TrainLog, RowsRoundTripExactly) {
  StepRecord a{1, 4096, 3e-4, 6.2383246421813965, 6.2381, 0.0002246421813965, 1.5, 12345.6, std::nullopt};
  StepRecord b{2, 8192, 2.9e-4, 1.0 / 3.0, 0.1, 0.2, 0.7, 0, 5.123456789012345};
  const std::string csv = csv_header() + csv_row(a) + csv_row(b);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "step,tokens,lr,loss,ce,z_loss,grad_norm,tok_s,val_loss");
  const std::vector<StepRecord> rows = parse_csv(csv, "log");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].loss, a.loss);  // bit for bit
  EXPECT_EQ(rows[1].loss, b.loss);
  EXPECT_EQ(rows[1].tokens, 8192);
  EXPECT_FALSE(rows[0].val_loss.has_value());
  EXPECT_EQ(rows[1].val_loss, b.val_loss);
  EXPECT_THROW(parse_csv("step,loss\n", "log"), Error);
  EXPECT_THROW(parse_csv(csv_header() + "1,2,3\n", "log"), Error);
  EXPECT_THROW(parse_csv(csv_header() + "1,2,x,4,5,6,7,8,\n", "log"), Error);
}

TEST(LinePlot, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 100, 5), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  const std::vector<double> fine = nice_ticks(2.05, 2.95, 4), expected{2.2, 2.4, 2.6, 2.8};
  ASSERT_EQ(fine.size(), expected.size());
  for (std::size_t i = 0; i < fine.size(); ++i) EXPECT_NEAR(fine[i], expected[i], 1e-12);
  const std::vector<double> t = nice_ticks(-1, 1, 4);
  EXPECT_EQ(t.front(), -1);
  EXPECT_EQ(t[2], 0.0);  // exactly zero, not -1e-17
  EXPECT_TRUE(nice_ticks(1, 1, 5).empty());
}

bool has_colour(const RgbImage& img, std::uint8_t r, std::uint8_t g, std::uint8_t b, int x0, int x1, int y0, int y1) {
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      const std::uint8_t* p = &img.pixels[(static_cast<std::size_t>(y) * img.width + x) * 3];
      if (p[0] == r && p[1] == g && p[2] == b) return true;
    }
  return false;
}

TEST(LinePlot, DrawsBothSeriesWhereTheirValuesAre) {
  PlotSeries train{"train", {}, {31, 119, 180}, false};
  PlotSeries val{"validation", {}, {255, 127, 14}, true};
  for (int s = 1; s <= 100; ++s) train.points.emplace_back(s, 6.0 * std::exp(-s / 30.0) + 1.0);
  for (int s = 20; s <= 100; s += 20) val.points.emplace_back(s, 6.0 * std::exp(-s / 30.0) + 1.3);
  const RgbImage img = render_line_plot({train, val}, {"step", "loss"}, 900, 560);
  ASSERT_EQ(img.pixels.size(), 900u * 560u * 3u);
  // The train curve starts high on the left and ends low on the right; the plot area spans
  // x 110..870, y 30..490.
  EXPECT_TRUE(has_colour(img, 31, 119, 180, 105, 130, 25, 80));
  EXPECT_TRUE(has_colour(img, 31, 119, 180, 840, 875, 400, 495));
  EXPECT_FALSE(has_colour(img, 31, 119, 180, 840, 875, 25, 80));
  // Validation markers exist (and the legend), the axes are black.
  EXPECT_TRUE(has_colour(img, 255, 127, 14, 110, 870, 100, 495));
  EXPECT_TRUE(has_colour(img, 0, 0, 0, 108, 112, 100, 400));
  // Empty input still gives a picture (axes only).
  EXPECT_EQ(render_line_plot({}, {"x", "y"}, 200, 150).pixels.size(), 200u * 150u * 3u);
}

TEST(LinePlot, PngFileReadsBack) {
  TempDir tmp;
  PlotSeries s{"train", {{0, 1}, {1, 2}, {2, 1.5}}, {200, 10, 10}, false};
  const RgbImage img = render_line_plot({s}, {"step", "loss"}, 320, 200);
  write_png(tmp.path() / "p.png", img);
  png_image in{};
  in.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_file(&in, (tmp.path() / "p.png").c_str())) << in.message;
  in.format = PNG_FORMAT_RGB;
  std::vector<std::uint8_t> pixels(PNG_IMAGE_SIZE(in));
  ASSERT_TRUE(png_image_finish_read(&in, nullptr, pixels.data(), 0, nullptr)) << in.message;
  EXPECT_EQ(in.width, 320u);
  EXPECT_EQ(in.height, 200u);
  EXPECT_EQ(pixels, img.pixels);
}

}  // namespace
}  // namespace supra::test::train_tests
