// Reference matmul: one pass over the weights, each row converted to float32 once and
// dotted with every token's activations. Threads split the output rows.
#include <omp.h>

#include <cstring>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "supra/error.h"

namespace supra::kernels {
namespace {

float dot(const float* a, const float* b, std::int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Decodes one stored row into float32. F32 rows are used in place (no copy).
const float* row_as_f32(const Matrix& w, std::int64_t r, float* scratch) {
  const std::byte* row = w.data + static_cast<std::size_t>(r) * w.row_bytes();
  switch (w.dtype) {
    case DType::F32:
      return reinterpret_cast<const float*>(row);
    case DType::BF16: {
      const auto* bits = reinterpret_cast<const std::uint16_t*>(row);
      for (std::int64_t c = 0; c < w.cols; ++c) {
        std::uint32_t u = std::uint32_t(bits[c]) << 16;
        std::memcpy(&scratch[c], &u, sizeof u);
      }
      return scratch;
    }
    case DType::F16: {
      const auto* bits = reinterpret_cast<const std::uint16_t*>(row);
      for (std::int64_t c = 0; c < w.cols; ++c) scratch[c] = f16_to_f32(bits[c]);
      return scratch;
    }
    case DType::Q8_0:
    case DType::Q4_0:
      dequantize_row(w.dtype, row, w.cols, scratch);
      return scratch;
    default:
      throw Error("matmul: unsupported weight type " + std::string(dtype_name(w.dtype)));
  }
}

}  // namespace

void matmul(float* y, const float* x, const Matrix& w, std::int64_t T) {
  if (w.dtype != DType::F32 && w.dtype != DType::BF16 && w.dtype != DType::F16 && !is_block_quantized(w.dtype))
    throw Error("matmul: unsupported weight type " + std::string(dtype_name(w.dtype)));
  const std::int64_t rows = w.rows, cols = w.cols;
  // Below this many multiply-adds a thread team costs more than it saves (tiny models, and
  // spinning workers hurt badly when the cores are shared).
  constexpr std::int64_t kMinParallelWork = std::int64_t{1} << 22;
#pragma omp parallel if (rows * cols * T >= kMinParallelWork)
  {
    std::vector<float> scratch(w.dtype == DType::F32 ? 0 : static_cast<std::size_t>(cols));
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* wr = row_as_f32(w, r, scratch.data());
      for (std::int64_t t = 0; t < T; ++t) y[t * rows + r] = dot(wr, x + t * cols, cols);
    }
  }
}

void add_bias(float* y, const float* bias, std::int64_t T, std::int64_t n) {
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t i = 0; i < n; ++i) y[t * n + i] += bias[i];
}

void copy_row(float* out, const Matrix& w, std::int64_t row) {
  std::vector<float> scratch(static_cast<std::size_t>(w.cols));
  const float* src = row_as_f32(w, row, scratch.data());
  std::memcpy(out, src, static_cast<std::size_t>(w.cols) * sizeof(float));
}

}  // namespace supra::kernels
