// rope against the half-split rotation of spec §3.5: partial rotation, position offsets
// and positions far beyond the training length.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/kernels.h"

namespace supra::kernels::test {
namespace {

constexpr std::int64_t kHeads = 3;

// ω_i = 1 / base^(2i / rot_dim), in float32 as the spec builds the table.
std::vector<float> inv_freq_table(std::int64_t rot_dim) {
  std::vector<float> w(static_cast<std::size_t>(rot_dim / 2));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 1.0f / std::pow(10000.0f, float(2 * i) / float(rot_dim));
  return w;
}

// x'_i = x_i cos θ_i − x_{i+h} sin θ_i,  x'_{i+h} = x_{i+h} cos θ_i + x_i sin θ_i  (h = rot_dim/2),
// θ_i the float32 product (first_pos + t) · ω_i; channels from rot_dim on are copied.
std::vector<double> rope_ref(const Floats& x, std::int64_t T, std::int64_t head_dim, std::int64_t rot_dim,
                             std::int64_t first_pos, const std::vector<float>& inv_freq) {
  std::vector<double> y(x.span().begin(), x.span().end());
  const std::int64_t half = rot_dim / 2;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < kHeads; ++h) {
      const std::int64_t base = (t * kHeads + h) * head_dim;
      for (std::int64_t i = 0; i < half; ++i) {
        const float angle = float(first_pos + t) * inv_freq[i];
        const double c = std::cos(double(angle)), s = std::sin(double(angle));
        const double a = x[base + i], b = x[base + i + half];
        y[base + i] = a * c - b * s;
        y[base + i + half] = b * c + a * s;
      }
    }
  return y;
}

std::string describe(std::int64_t T, std::int64_t head_dim, std::int64_t rot_dim, std::int64_t first_pos) {
  return "rope T=" + std::to_string(T) + " head_dim=" + std::to_string(head_dim) +
         " rot_dim=" + std::to_string(rot_dim) + " first_pos=" + std::to_string(first_pos);
}

TEST(Rope, MatchesHalfSplitRotation) {
  auto rng = seeded_rng();
  // {head_dim, rot_dim}: full rotation, odd head widths, partial rotation.
  const std::int64_t dims[][2] = {{2, 2}, {8, 8}, {7, 6}, {10, 4}, {130, 130}};
  for (const auto& dim : dims)
    for (std::int64_t T : {1, 7, 33})
      for (std::int64_t first_pos : {0, 5}) {
        const std::int64_t head_dim = dim[0], rot_dim = dim[1], row = kHeads * head_dim;
        const std::vector<float> inv_freq = inv_freq_table(rot_dim);
        Floats x(random_floats(rng, T * row));
        const std::vector<double> ref = rope_ref(x, T, head_dim, rot_dim, first_pos, inv_freq);
        rope(x.data(), T, kHeads, head_dim, rot_dim, first_pos, inv_freq.data());
        EXPECT_TRUE(close_to(x.span(), ref, kRelTol, describe(T, head_dim, rot_dim, first_pos), row));
      }
}

TEST(Rope, LeavesChannelsPastRotDimUntouched) {
  auto rng = seeded_rng();
  const std::int64_t T = 7, head_dim = 10, rot_dim = 4;
  const std::vector<float> inv_freq = inv_freq_table(rot_dim);
  const std::vector<float> original = random_floats(rng, T * kHeads * head_dim);
  Floats x(original);
  rope(x.data(), T, kHeads, head_dim, rot_dim, 3, inv_freq.data());
  for (std::int64_t r = 0; r < T * kHeads; ++r)
    for (std::int64_t i = rot_dim; i < head_dim; ++i)
      ASSERT_EQ(x[r * head_dim + i], original[r * head_dim + i]) << "head row " << r << " channel " << i;
}

// Rotating rows p.. of a sequence at first_pos = p must equal rotating the whole sequence
// from 0: decode (one token at offset p) and prefill agree.
TEST(Rope, OffsetMatchesLaterRowsOfLongerSequence) {
  auto rng = seeded_rng();
  const std::int64_t T_long = 40, p = 29, T = 11, head_dim = 8, row = kHeads * head_dim;
  const std::vector<float> inv_freq = inv_freq_table(head_dim);
  const std::vector<float> original = random_floats(rng, T_long * row);
  Floats whole(original);
  rope(whole.data(), T_long, kHeads, head_dim, head_dim, 0, inv_freq.data());
  const std::span<const float> later_rows = std::span<const float>(original).subspan(p * row);
  Floats tail(later_rows);
  rope(tail.data(), T, kHeads, head_dim, head_dim, p, inv_freq.data());
  const std::vector<double> expected(whole.span().begin() + p * row, whole.span().end());
  EXPECT_TRUE(close_to(tail.span(), expected, kRelTol, "rope at first_pos=29 vs rows 29.. of a 40-token rope", row));
}

TEST(Rope, LargePositions) {
  auto rng = seeded_rng();
  const std::int64_t T = 3, head_dim = 128, first_pos = 100000;
  const std::vector<float> inv_freq = inv_freq_table(head_dim);
  Floats x(random_floats(rng, T * kHeads * head_dim));
  const std::vector<double> ref = rope_ref(x, T, head_dim, head_dim, first_pos, inv_freq);
  rope(x.data(), T, kHeads, head_dim, head_dim, first_pos, inv_freq.data());
  EXPECT_TRUE(close_to(x.span(), ref, kRelTol, describe(T, head_dim, head_dim, first_pos), kHeads * head_dim));
}

}  // namespace
}  // namespace supra::kernels::test
