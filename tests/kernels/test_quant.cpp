// Q8_0 / Q4_0 block quantization: hand-computed blocks, round-trip error bounds, the f16
// scale conversion, and matmul / copy_row over quantized rows against the decoded floats.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "supra/error.h"

namespace supra::kernels {
namespace {

std::vector<float> ramp() {  // -16, -15, ..., 15
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = float(j - 16);
  return x;
}

std::uint16_t scale_bits(const std::vector<std::byte>& block) {
  std::uint16_t bits;
  std::memcpy(&bits, block.data(), 2);
  return bits;
}

std::vector<float> random_row(std::mt19937& rng, std::int64_t n, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> x(static_cast<std::size_t>(n));
  for (float& v : x) v = dist(rng);
  return x;
}

TEST(F16, RoundsToNearestEvenAndRoundTripsEveryHalf) {
  EXPECT_EQ(f32_to_f16(0.0f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(1e6f), 0x7C00);                  // overflow: inf
  EXPECT_EQ(f32_to_f16(1.0f + 0x1.0p-11f), 0x3C00);     // halfway: to even (down)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1.0p-11f), 0x3C02); // halfway: to even (up)
  EXPECT_EQ(f32_to_f16(0x1.0p-24f), 0x0001);            // smallest subnormal
  EXPECT_EQ(f32_to_f16(0x1.0p-26f), 0x0000);            // below half of it
  EXPECT_EQ(f32_to_f16(NAN) & 0x7C00, 0x7C00);
  EXPECT_NE(f32_to_f16(NAN) & 0x03FF, 0);
  for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
    if ((bits & 0x7C00) == 0x7C00 && (bits & 0x03FF) != 0) continue;  // NaN payloads are not kept
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<std::uint16_t>(bits))), bits) << bits;
  }
}

TEST(Q8_0, HandComputedBlock) {
  // amax = 16, d = 16/127 = 0.12598 → f16 0x3008 (2^-3 · (1 + 8/1024)); q = round(x · 127/16).
  std::vector<std::byte> block(kQ8_0BlockBytes);
  quantize_row_q8_0(ramp().data(), 32, block.data());
  EXPECT_EQ(scale_bits(block), 0x3008);
  const int expected_q[] = {-127, -119, -111, -103, -95, -87, -79, -71, -64, -56, -48, -40, -32, -24, -16, -8,
                            0,    8,    16,   24,   32,  40,  48,  56,  64,  71,  79,  87,  95,  103, 111, 119};
  for (int j = 0; j < 32; ++j) EXPECT_EQ(static_cast<int>(static_cast<std::int8_t>(block[2 + j])), expected_q[j]) << j;
  std::vector<float> back(32);
  dequantize_row_q8_0(block.data(), 32, back.data());
  const float d = f16_to_f32(0x3008);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[j], d * float(expected_q[j]));
}

TEST(Q4_0, HandComputedBlock) {
  // The signed extreme is -16, so d = -16 / -8 = 2 (f16 0x4000) and n = min(15, trunc(x/2 + 8.5)):
  // x = -16 → 0, -15 → 1, -14 → 1, -13 → 2, ..., 14 → 15, 15 → min(15, 16) = 15.
  std::vector<std::byte> block(kQ4_0BlockBytes);
  quantize_row_q4_0(ramp().data(), 32, block.data());
  EXPECT_EQ(scale_bits(block), 0x4000);
  auto nib = [](int j) { return std::min(15, static_cast<int>((j - 16) * 0.5f + 8.5f)); };
  for (int j = 0; j < 16; ++j)
    EXPECT_EQ(static_cast<int>(block[2 + j]), nib(j) | (nib(j + 16) << 4)) << j;
  EXPECT_EQ(static_cast<int>(block[2]), 0x80);   // n0 = 0, n16 = 8 (x = 0)
  EXPECT_EQ(static_cast<int>(block[17]), 0xF8);  // n15 = 8 (x = -1 → 8.0), n31 = 15
  std::vector<float> back(32);
  dequantize_row_q4_0(block.data(), 32, back.data());
  EXPECT_EQ(back[0], -16.0f);
  EXPECT_EQ(back[16], 0.0f);
  EXPECT_EQ(back[31], 14.0f);  // the clamp: 15 → (15 - 8) · 2
}

TEST(Quant, ZeroBlocksHaveZeroScale) {
  const std::vector<float> zeros(64, 0.0f);
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    std::vector<std::byte> row(dtype_row_bytes(t, 64), std::byte{0xAB});
    quantize_row(t, zeros.data(), 64, row.data());
    std::vector<float> back(64, 1.0f);
    dequantize_row(t, row.data(), 64, back.data());
    for (float v : back) EXPECT_EQ(v, 0.0f) << dtype_name(t);
  }
}

TEST(Quant, RoundTripErrorIsWithinHalfAStepPerBlock) {
  std::mt19937 rng(7);
  const std::int64_t n = 32 * 40;
  const std::vector<float> x = random_row(rng, n, 0.02f);
  for (DType t : {DType::Q8_0, DType::Q4_0}) {
    std::vector<std::byte> row(dtype_row_bytes(t, n));
    // GGML's rules (quantize_row stores Q4_0 with fitted scales, checked below).
    t == DType::Q8_0 ? quantize_row(t, x.data(), n, row.data()) : quantize_row_q4_0(x.data(), n, row.data());
    std::vector<float> back(static_cast<std::size_t>(n));
    dequantize_row(t, row.data(), n, back.data());
    for (std::int64_t b = 0; b < n / 32; ++b) {
      float amax = 0;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
      // Half a step, plus the f16 rounding of d (2^-11 relative) times the largest |q|; Q4_0
      // may also clamp +8 steps to +7 (one whole step) on the side opposite the extreme.
      const float step = t == DType::Q8_0 ? amax / 127 : amax / 8;
      const float bound = t == DType::Q8_0 ? step * (0.5f + 127 * 0x1.0p-11f) : step * (1.0f + 8 * 0x1.0p-11f);
      for (int j = 0; j < 32; ++j)
        ASSERT_LE(std::fabs(back[b * 32 + j] - x[b * 32 + j]), bound * 1.0001f) << dtype_name(t) << " block " << b;
    }
  }
}

// Two Q4_0 encodings of x compared block by block on Σ w·(x − x̂)² (w = 1 when `weights` is
// empty): `fit` must never lose to `base` by more than the f16 rounding of its scale (2^-11
// relative, on every element). Returns how often it wins and both totals.
struct BlockComparison {
  int fit_better = 0;
  double base_total = 0, fit_total = 0;
};

BlockComparison compare_q4_blocks(const std::vector<float>& x, const std::vector<std::byte>& base,
                                  const std::vector<std::byte>& fit, const std::vector<float>& weights) {
  const auto n = static_cast<std::int64_t>(x.size());
  std::vector<float> base_back(x.size()), fit_back(x.size());
  dequantize_row(DType::Q4_0, base.data(), n, base_back.data());
  dequantize_row(DType::Q4_0, fit.data(), n, fit_back.data());
  BlockComparison c;
  for (std::int64_t b = 0; b < n / 32; ++b) {
    double e_base = 0, e_fit = 0, scale = 0;
    for (std::int64_t j = b * 32; j < (b + 1) * 32; ++j) {
      const double w = weights.empty() ? 1.0 : weights[static_cast<std::size_t>(j)];
      e_base += w * (double(x[j]) - base_back[j]) * (double(x[j]) - base_back[j]);
      e_fit += w * (double(x[j]) - fit_back[j]) * (double(x[j]) - fit_back[j]);
      scale += w * double(x[j]) * x[j];
    }
    EXPECT_LE(e_fit, e_base + 4 * 0x1.0p-11 * scale) << "block " << b;
    c.fit_better += e_fit < e_base;
    c.base_total += e_base;
    c.fit_total += e_fit;
  }
  return c;
}

TEST(Q4_0, FittedScalesAreNeverWorseAndUsuallyBetter) {
  std::mt19937 rng(11);
  const std::int64_t n = 32 * 200;
  std::vector<float> x = random_row(rng, n, 0.02f);
  const std::vector<float> r = ramp();
  std::copy(r.begin(), r.end(), x.begin());  // block 0: the hand-computed ramp
  std::vector<std::byte> ref(dtype_row_bytes(DType::Q4_0, n)), fit(ref.size());
  quantize_row_q4_0(x.data(), n, ref.data());
  quantize_row(DType::Q4_0, x.data(), n, fit.data());  // what supra stores
  const BlockComparison c = compare_q4_blocks(x, ref, fit, {});
  EXPECT_GT(c.fit_better, n / 32 / 2);
  EXPECT_LT(c.fit_total, 0.95 * c.base_total) << c.fit_total << " vs " << c.base_total;
}

TEST(Q4_0, UniformImportanceIsTheUnweightedFitExactly) {
  std::mt19937 rng(5);
  const std::int64_t n = 32 * 40;
  const std::vector<float> x = random_row(rng, n, 0.03f);
  const std::vector<float> ones(static_cast<std::size_t>(n), 1.0f);
  std::vector<std::byte> plain(dtype_row_bytes(DType::Q4_0, n)), weighted(plain.size());
  quantize_row(DType::Q4_0, x.data(), n, plain.data());
  quantize_row(DType::Q4_0, x.data(), n, weighted.data(), ones.data());
  EXPECT_EQ(plain, weighted);
}

TEST(Q4_0, ImportanceLowersTheWeightedErrorItIsFittedFor) {
  // Columns of very different importance (as activations are): the weighted fit must not lose
  // to the unweighted one on Σ w·(x − x̂)², and must win on most blocks.
  std::mt19937 rng(17);
  const std::int64_t n = 32 * 300;
  const std::vector<float> x = random_row(rng, n, 0.02f);
  std::vector<float> importance(static_cast<std::size_t>(n));
  std::exponential_distribution<float> spread(1.0f);
  for (float& w : importance) w = 0.01f + spread(rng) * spread(rng);
  std::vector<std::byte> plain(dtype_row_bytes(DType::Q4_0, n)), weighted(plain.size());
  quantize_row(DType::Q4_0, x.data(), n, plain.data());
  quantize_row(DType::Q4_0, x.data(), n, weighted.data(), importance.data());
  const BlockComparison c = compare_q4_blocks(x, plain, weighted, importance);
  EXPECT_GT(c.fit_better, n / 32 / 2);
  EXPECT_LT(c.fit_total, 0.9 * c.base_total) << c.fit_total << " vs " << c.base_total;
}

TEST(Quant, PartialBlocksAndOtherTypesAreRejected) {
  std::vector<float> x(33, 1.0f);
  std::vector<std::byte> out(64);
  EXPECT_THROW(quantize_row(DType::Q8_0, x.data(), 33, out.data()), Error);
  EXPECT_THROW(dequantize_row(DType::Q4_0, out.data(), 17, x.data()), Error);
  EXPECT_THROW(quantize_row(DType::I32, x.data(), 4, out.data()), Error);
}

TEST(Quant, MatmulAndCopyRowDecodeQuantizedRows) {
  std::mt19937 rng(11);
  for (DType t : {DType::Q8_0, DType::Q4_0})
    for (std::int64_t rows : {1, 7, 33})
      for (std::int64_t cols : {32, 96}) {
        const std::vector<float> w = random_row(rng, rows * cols, 1.0f);
        const std::size_t rb = dtype_row_bytes(t, cols);
        std::vector<std::byte> stored(rb * rows + 1);  // +1: an odd start, no alignment assumed
        std::vector<float> decoded(w.size());
        for (std::int64_t r = 0; r < rows; ++r) {
          quantize_row(t, w.data() + r * cols, cols, stored.data() + 1 + r * rb);
          dequantize_row(t, stored.data() + 1 + r * rb, cols, decoded.data() + r * cols);
        }
        const Matrix q{t, rows, cols, stored.data() + 1};
        const Matrix f{DType::F32, rows, cols, reinterpret_cast<const std::byte*>(decoded.data())};
        for (std::int64_t T : {1, 3}) {
          const std::vector<float> x = random_row(rng, T * cols, 1.0f);
          std::vector<float> yq(static_cast<std::size_t>(T * rows)), yf(yq.size());
          matmul(yq.data(), x.data(), q, T);
          matmul(yf.data(), x.data(), f, T);
          // The fast path quantizes the activations to int8 blocks (as llama.cpp does; the exact
          // scheme is checked in test_dispatch.cpp): each x_c moves by at most half a step of
          // its block's scale, ≤ max|x_t| / 254, so |yq − yf| ≤ Σ_c |w_rc| · max|x_t| / 254.
          for (std::int64_t tt = 0; tt < T; ++tt) {
            float xmax = 0.0f;
            for (std::int64_t c = 0; c < cols; ++c) xmax = std::max(xmax, std::fabs(x[tt * cols + c]));
            for (std::int64_t r = 0; r < rows; ++r) {
              float wsum = 0.0f;
              for (std::int64_t c = 0; c < cols; ++c) wsum += std::fabs(decoded[r * cols + c]);
              const std::size_t i = static_cast<std::size_t>(tt * rows + r);
              ASSERT_NEAR(yq[i], yf[i], 1e-4f * (1.0f + std::fabs(yf[i])) + 1.01f * wsum * xmax / 254.0f)
                  << dtype_name(t) << " rows=" << rows << " cols=" << cols << " T=" << T;
            }
          }
        }
        std::vector<float> row(static_cast<std::size_t>(cols));
        copy_row(row.data(), q, rows - 1);
        for (std::int64_t c = 0; c < cols; ++c) ASSERT_EQ(row[c], decoded[(rows - 1) * cols + c]);
      }
}

}  // namespace
}  // namespace supra::kernels
