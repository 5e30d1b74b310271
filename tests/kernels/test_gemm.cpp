// The oneDNN pieces of the prefill GEMM (kernels/gemm.h): the matmul primitive against a
// double-precision twin (float32 operands everywhere; bf16 operands where the CPU runs bf16
// natively), the bf16 rounding of the activations against the library's own conversion, and
// gemm() on each float weight type on whichever path this CPU takes (the block types:
// test_dispatch.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/gemm.h"
#include "supra/error.h"
#include "supra/tensor.h"

namespace supra::kernels::test {
namespace {

// The T×N block of y whose rows are ldy apart.
std::vector<float> block(const std::vector<float>& y, std::int64_t T, std::int64_t N, std::int64_t ldy) {
  std::vector<float> out;
  for (std::int64_t t = 0; t < T; ++t) out.insert(out.end(), y.begin() + t * ldy, y.begin() + t * ldy + N);
  return out;
}

const std::int64_t kShapes[][3] = {{1, 1, 1}, {17, 37, 203}, {33, 8, 64}, {5, 130, 65}};  // T, N, K

TEST(Gemm, MatmulPrimitiveMatchesReferenceInFloat32) {
  auto rng = seeded_rng();
  for (const auto& [T, N, K] : kShapes) {
    const std::vector<float> x = random_floats(rng, T * K), w = random_floats(rng, N * K);
    const std::int64_t ldy = N + 3;  // rows of a wider output, as the GEMM's panels write them
    std::vector<float> y(static_cast<std::size_t>(T * ldy), -7.0f);
    matmul_primitive(y.data(), ldy, x.data(), w.data(), DType::F32, T, N, K);
    const std::string what = "f32 T=" + std::to_string(T) + " N=" + std::to_string(N) + " K=" + std::to_string(K);
    const std::vector<double> wd(w.begin(), w.end());
    EXPECT_TRUE(close_to(block(y, T, N, ldy), matmul_ref(x, wd, T, N, K), kRelTol, what, N));
    for (std::int64_t t = 0; t < T; ++t)  // the gap between rows is left alone
      for (std::int64_t n = N; n < ldy; ++n) EXPECT_EQ(y[t * ldy + n], -7.0f) << what;
  }
}

TEST(Gemm, MatmulPrimitiveInBf16WhereTheCpuHasIt) {
  if (!bf16_gemm_native()) GTEST_SKIP() << "this CPU has neither AVX512-BF16 nor AMX";
  auto rng = seeded_rng();
  for (const auto& [T, N, K] : kShapes) {
    const std::vector<float> xf = random_floats(rng, T * K), wf = random_floats(rng, N * K);
    std::vector<std::uint16_t> x(xf.size()), w(wf.size());
    std::vector<float> xr;  // the rounded values
    std::vector<double> wr;
    for (std::size_t i = 0; i < x.size(); ++i) xr.push_back(bf16_to_f32(x[i] = f32_to_bf16(xf[i])));
    for (std::size_t i = 0; i < w.size(); ++i) wr.push_back(double(bf16_to_f32(w[i] = f32_to_bf16(wf[i]))));
    std::vector<float> y(static_cast<std::size_t>(T * N));
    matmul_primitive(y.data(), N, x.data(), w.data(), DType::BF16, T, N, K);
    // Products of bf16 values are exact in float32; only the float32 sums round.
    EXPECT_TRUE(close_to(y, matmul_ref(xr, wr, T, N, K), kRelTol, "bf16 T=" + std::to_string(T), N));
  }
}

TEST(Gemm, MatmulPrimitiveRejectsOtherTypes) {
  float x = 1, w = 1, y = 0;
  EXPECT_THROW(matmul_primitive(&y, 1, &x, &w, DType::F16, 1, 1, 1), Error);
}

TEST(Gemm, RoundToBf16RoundsLikeTheLibrary) {
  auto rng = seeded_rng();
  std::vector<float> x = random_floats(rng, 1000, -1e4f, 1e4f);
  // Ties (1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷), zeros, a subnormal, extremes, infinities.
  for (float v : {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -0.0f, 0.0f, 1e-40f, 3.4e38f, -3.4e38f,
                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()})
    x.push_back(v);
  std::vector<std::uint16_t> got(x.size());
  round_to_bf16(got.data(), x.data(), static_cast<std::int64_t>(x.size()));
  // oneDNN flushes subnormal inputs to zero (the bf16 instructions do the same), and zeros
  // compare equal whatever their sign.
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float want = std::fabs(x[i]) < std::numeric_limits<float>::min() ? 0.0f : bf16_to_f32(f32_to_bf16(x[i]));
    EXPECT_EQ(bf16_to_f32(got[i]), want) << "x = " << x[i];
  }
}

// Each weight type through gemm(), on whichever path this CPU takes: float32 (sgemm, decoded
// panels) or, with native bf16, the bf16 matmul over rounded activations and weights.
TEST(Gemm, EveryWeightTypeOnThisCpusPath) {
  auto rng = seeded_rng();
  const std::int64_t T = kGemmMinTokens + 1, rows = 37, cols = 203;
  for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    const Weights w = make_weights(dtype, rows, cols, random_floats(rng, rows * cols));
    const Floats x(random_floats(rng, T * cols));
    Floats y(T * rows);
    gemm(y.data(), x.data(), w.matrix, T);
    EXPECT_TRUE(close_to(y.span(),
                         matmul_ref(gemm_activations(x, dtype).span(), gemm_weights(w.decoded, dtype), T, rows, cols),
                         kRelTol, gemm_path(dtype) + " " + std::string(dtype_name(dtype)), rows));
  }
}

}  // namespace
}  // namespace supra::kernels::test
