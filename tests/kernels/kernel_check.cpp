#include "kernel_check.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <sstream>

#include "kernels/gemm.h"
#include "kernels/simd.h"
#include "supra/tensor.h"
#include "test_support.h"

namespace supra::kernels::test {
namespace {

constexpr std::size_t kBoundary = 64;

// Index of the first element that lies one element past a kBoundary-byte boundary.
std::size_t misaligned_offset(const void* base, std::size_t elem_size) {
  const auto addr = reinterpret_cast<std::uintptr_t>(base);
  const std::size_t to_boundary = (kBoundary - addr % kBoundary) % kBoundary;
  return to_boundary / elem_size + 1;
}

// Definitions of the two 16-bit formats, evaluated in double.
double decode_bf16(std::uint16_t bits) { return double(std::bit_cast<float>(std::uint32_t(bits) << 16)); }

double decode_f16(std::uint16_t bits) {
  const double sign = (bits & 0x8000u) ? -1.0 : 1.0;
  const int exponent = (bits >> 10) & 0x1F;
  const int mantissa = bits & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(double(mantissa), -24);  // subnormal
  return sign * std::ldexp(1.0 + mantissa / 1024.0, exponent - 15);    // no inf/NaN in tests
}

}  // namespace

std::vector<float> random_floats(std::mt19937& rng, std::size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(n);
  for (float& x : out) x = dist(rng);
  return out;
}

Floats::Floats(std::size_t n, float fill) : storage_(n + kBoundary / sizeof(float) + 1, fill), size_(n) {
  offset_ = misaligned_offset(storage_.data(), sizeof(float));
}

Floats::Floats(std::span<const float> values) : Floats(values.size()) {
  std::copy(values.begin(), values.end(), data());
}

std::uint16_t f32_to_f16(float value) {
  const std::uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const double a = std::fabs(double(value));
  // Below 2^-14 the format is fixed-point with step 2^-24. Rounding up to 1024 yields
  // exactly the bits of the smallest normal, so no special case is needed.
  if (a < std::ldexp(1.0, -14)) return std::uint16_t(sign | int(std::nearbyint(a * 0x1p24)));
  int e = 0;
  const double f = std::frexp(a, &e);  // a = f · 2^e, f in [0.5, 1)
  int exponent = e - 1 + 15;
  int mantissa = int(std::nearbyint((2.0 * f - 1.0) * 1024.0));  // nearbyint: ties to even
  if (mantissa == 1024) {
    mantissa = 0;
    ++exponent;
  }
  return std::uint16_t(sign | (exponent << 10) | mantissa);
}

std::vector<double> matmul_ref(std::span<const float> x, std::span<const double> w, std::int64_t T, std::int64_t rows,
                               std::int64_t cols) {
  std::vector<double> y(static_cast<std::size_t>(T * rows));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (std::int64_t c = 0; c < cols; ++c) s += double(x[t * cols + c]) * w[r * cols + c];
      y[t * rows + r] = s;
    }
  return y;
}

Floats gemm_activations(const Floats& x, DType weights) {
  Floats out(x.span());
  if (gemm_in_bf16(weights))
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = bf16_to_f32(f32_to_bf16(out[i]));
  return out;
}

Floats dot_activations(const Floats& x, DType weights) {
  Floats out(x.span());
  if (simd::dot_rows_in_bf16(weights))
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = bf16_to_f32(f32_to_bf16(out[i]));
  return out;
}

std::vector<double> gemm_weights(std::span<const double> w, DType weights) {
  std::vector<double> out(w.begin(), w.end());
  if (gemm_in_bf16(weights))
    for (double& v : out) v = double(bf16_to_f32(f32_to_bf16(float(v))));  // decoded values are floats
  return out;
}

Weights make_weights(DType dtype, std::int64_t rows, std::int64_t cols, std::span<const float> values) {
  const std::size_t n = static_cast<std::size_t>(rows * cols), esize = dtype_size(dtype);
  Weights w;
  w.storage.resize((n + 1) * esize + kBoundary);
  std::byte* base = w.storage.data() + misaligned_offset(w.storage.data(), esize) * esize;
  w.decoded.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::byte* dst = base + i * esize;
    if (dtype == DType::F32) {
      std::memcpy(dst, &values[i], sizeof(float));
      w.decoded[i] = values[i];
    } else {
      const std::uint16_t bits = dtype == DType::BF16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
      std::memcpy(dst, &bits, sizeof bits);
      w.decoded[i] = dtype == DType::BF16 ? decode_bf16(bits) : decode_f16(bits);
    }
  }
  w.matrix = Matrix{dtype, rows, cols, base};
  return w;
}

::testing::AssertionResult close_to(std::span<const float> got, std::span<const double> ref, double rel_tol,
                                    const std::string& what, std::size_t width) {
  if (got.size() != ref.size())
    return ::testing::AssertionFailure() << what << ": size " << got.size() << " vs reference " << ref.size();
  const std::vector<float> ref_f(ref.begin(), ref.end());
  const supra::test::Diff d = supra::test::compare(got, ref_f);
  const double bound = rel_tol * (d.ref_max_abs > 0 ? d.ref_max_abs : 1.0);
  if (d.max_abs <= bound) return ::testing::AssertionSuccess();
  std::ostringstream where;
  where << "index " << d.worst_index;
  if (width > 0) where << " (row " << d.worst_index / width << ", col " << d.worst_index % width << ")";
  return ::testing::AssertionFailure() << what << ": max abs err " << d.max_abs << " at " << where.str() << " (got "
                                       << got[d.worst_index] << ", want " << ref[d.worst_index] << "), rel err "
                                       << d.rel() << " > tolerance " << rel_tol;
}

}  // namespace supra::kernels::test
