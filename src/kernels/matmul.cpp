// matmul: the dispatched dot-product kernels (simd.h) for decode and short spans, the oneDNN
// GEMM (gemm.h) for long prefills. Threads (thread_pool.h) split the output rows; each weight
// byte is read from memory once per call.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"
#include "supra/error.h"

namespace supra::kernels {
namespace {

bool supported(DType t) {
  return t == DType::F32 || t == DType::BF16 || t == DType::F16 || t == DType::Q8_0 || t == DType::Q4_0;
}

void check_supported(const Matrix& w) {
  if (!supported(w.dtype)) throw Error("matmul: unsupported weight type " + std::string(dtype_name(w.dtype)));
}

}  // namespace

void matmul(float* y, const float* x, const Matrix& w, std::int64_t T) {
  check_supported(w);
  if (T <= 0 || w.rows <= 0) return;
  if (T >= kGemmMinTokens) return gemm(y, x, w, T);
  const bool quantized = is_block_quantized(w.dtype);
  std::vector<simd::QBlock> xq;
  if (quantized) {
    xq.resize(static_cast<std::size_t>(T * (w.cols / kQuantBlock)));
    simd::quantize_activations(xq.data(), x, T, w.cols);
  }
  // Below this many multiply-adds a thread team costs more than it saves (tiny models).
  constexpr std::int64_t kMinParallelWork = std::int64_t{1} << 18;
  // Rows per work item: enough to amortize scheduling, few enough to balance two threads.
  constexpr std::int64_t kRowsPerItem = 64;
  const std::int64_t items = (w.rows + kRowsPerItem - 1) / kRowsPerItem;
  const auto item = [&](std::int64_t i) {
    const std::int64_t r0 = i * kRowsPerItem, r1 = std::min(w.rows, r0 + kRowsPerItem);
    simd::dot_rows(y, w, r0, r1, quantized ? nullptr : x, quantized ? xq.data() : nullptr, T);
  };
  if (w.rows * w.cols * T < kMinParallelWork) {
    for (std::int64_t i = 0; i < items; ++i) item(i);
  } else {
    parallel_for(items, item);  // the spinning pool: decode runs hundreds of these per token
  }
}

void add_bias(float* y, const float* bias, std::int64_t T, std::int64_t n) {
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t i = 0; i < n; ++i) y[t * n + i] += bias[i];
}

void copy_row(float* out, const Matrix& w, std::int64_t row) {
  check_supported(w);
  simd::decode_rows(out, w, row, row + 1);
}

}  // namespace supra::kernels
