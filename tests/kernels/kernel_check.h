// Shared by the kernel tests: seeded inputs, buffers that hand kernels deliberately
// misaligned pointers, weight matrices in each stored type, and the closeness check whose
// failure message names the case, the worst index and both errors.
#pragma once
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "kernels/matrix.h"

namespace supra::kernels::test {

// Every kernel here accumulates in float32 over at most a few hundred terms, so its result
// must match the double-precision twin to 1e-5 of the largest reference magnitude.
inline constexpr double kRelTol = 1e-5;

// Fixed seed: a failure reproduces exactly.
inline std::mt19937 seeded_rng() { return std::mt19937(20240611u); }

std::vector<float> random_floats(std::mt19937& rng, std::size_t n, float lo = -1.0f, float hi = 1.0f);

// A float array whose data() sits one float past a 64-byte boundary, so that kernels never
// get the alignment a SIMD path might silently assume.
class Floats {
 public:
  explicit Floats(std::size_t n, float fill = 0.0f);
  explicit Floats(std::span<const float> values);
  // A copy would lose the chosen misalignment; copy through the span constructor instead.
  Floats(const Floats&) = delete;
  Floats& operator=(const Floats&) = delete;
  Floats(Floats&&) = default;
  Floats& operator=(Floats&&) = default;
  float* data() { return storage_.data() + offset_; }
  const float* data() const { return storage_.data() + offset_; }
  std::size_t size() const { return size_; }
  float& operator[](std::size_t i) { return data()[i]; }
  float operator[](std::size_t i) const { return data()[i]; }
  std::span<const float> span() const { return {data(), size_}; }

 private:
  std::vector<float> storage_;
  std::size_t offset_ = 0;
  std::size_t size_ = 0;
};

// f32 -> IEEE binary16, round to nearest even. Test values stay below 65504.
std::uint16_t f32_to_f16(float value);

// A weight matrix stored as F32, BF16 or F16 (the data pointer again one element past a
// 64-byte boundary), with the values it decodes to, computed independently of the library
// from the format definitions.
struct Weights {
  Matrix matrix;                // points into `storage`
  std::vector<double> decoded;  // [rows, cols]
  std::vector<std::byte> storage;

  Weights() = default;
  Weights(const Weights&) = delete;  // the copy's matrix would point into the original
  Weights& operator=(const Weights&) = delete;
  Weights(Weights&&) = default;
  Weights& operator=(Weights&&) = default;
};
Weights make_weights(DType dtype, std::int64_t rows, std::int64_t cols, std::span<const float> values);

// y[t, r] = Σ_c x[t, c] · w[r, c] in double: nn.Linear without bias, x[T, cols], w[rows, cols].
std::vector<double> matmul_ref(std::span<const float> x, std::span<const double> w, std::int64_t T, std::int64_t rows,
                               std::int64_t cols);

// The operands gemm() multiplies (T ≥ kGemmMinTokens tokens) for weights of type `weights`:
// rounded to bf16 where kernels::gemm_in_bf16(weights), else the values themselves.
Floats gemm_activations(const Floats& x, DType weights);
std::vector<double> gemm_weights(std::span<const double> w, DType weights);

// The activations the dot-product kernels multiply (T < kGemmMinTokens tokens) for weights of
// type `weights` on the current target: rounded to bf16 where simd::dot_rows_in_bf16(weights)
// (BF16 weights on AVX512-BF16 CPUs), else the values themselves.
Floats dot_activations(const Floats& x, DType weights);

// Passes when max|got - ref| ≤ rel_tol · max|ref| (or ≤ rel_tol when ref is all zero).
// `width` > 0 splits the worst index into (row, column) for the message.
::testing::AssertionResult close_to(std::span<const float> got, std::span<const double> ref, double rel_tol,
                                    const std::string& what, std::size_t width = 0);

}  // namespace supra::kernels::test
