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
  if (T >= gemm_min_tokens(w.dtype)) return gemm(y, x, w, T);
  matmul_rowwise(y, x, w, T);
}

void matmul_rowwise(float* y, const float* x, const Matrix& w, std::int64_t T) {
  check_supported(w);
  if (T <= 0 || w.rows <= 0) return;
  const bool quantized = is_block_quantized(w.dtype);
  // Grown to the largest call and kept: a decode step allocates nothing. The pool's workers
  // see their own (empty) thread_local, so they are handed this thread's buffer by pointer.
  thread_local std::vector<simd::QBlock> xq_buffer;
  const simd::QBlock* xq = nullptr;
  if (quantized) {
    const std::size_t blocks = static_cast<std::size_t>(T * (w.cols / kQuantBlock));
    if (xq_buffer.size() < blocks) xq_buffer.resize(blocks);
    xq = xq_buffer.data();
    simd::quantize_activations(xq_buffer.data(), x, T, w.cols);
  }
  // The activations in the kernels' own layout, once for every thread and work item.
  thread_local simd::PreparedRows prepared_buffer;
  simd::prepare_rows(prepared_buffer, w, x, xq, T);
  const std::byte* const prepared = prepared_buffer.data();
  const std::size_t prepared_row = simd::prepared_row_bytes(w);
  // Below this many multiply-adds a thread team costs more than it saves (tiny models).
  constexpr std::int64_t kMinParallelWork = std::int64_t{1} << 18;
  // Rows per work item: enough to amortize scheduling, few enough to balance two threads.
  constexpr std::int64_t kRowsPerItem = 64;
  const std::int64_t items = (w.rows + kRowsPerItem - 1) / kRowsPerItem;
  // More rows than one pass takes go in even chunks: the item's weight rows, read from memory
  // by the first chunk, are still in cache for the others.
  // (Lanes16 matrices take every row in one call: their kernel tiles the rows by 8 itself.)
  const std::int64_t max_rows = w.layout == Layout::Lanes16 ? T : kMaxDotRows;
  const std::int64_t passes = (T + max_rows - 1) / max_rows, chunk = (T + passes - 1) / passes;
  const std::int64_t nblocks = w.cols / kQuantBlock;
  const auto item = [&](std::int64_t i) {
    const std::int64_t r0 = i * kRowsPerItem, r1 = std::min(w.rows, r0 + kRowsPerItem);
    for (std::int64_t t0 = 0; t0 < T; t0 += chunk)
      simd::dot_rows(y + t0 * w.rows, w, r0, r1, quantized ? nullptr : x + t0 * w.cols,
                     quantized ? xq + t0 * nblocks : nullptr, std::min(chunk, T - t0),
                     prepared_row ? prepared + static_cast<std::size_t>(t0) * prepared_row : nullptr);
  };
  if (w.rows * w.cols * T < kMinParallelWork) {
    for (std::int64_t i = 0; i < items; ++i) item(i);
  } else {
    parallel_for(items, item);  // the spinning pool: decode runs hundreds of these per token
  }
}

void add_bias(float* y, const float* bias, std::int64_t T, std::int64_t n) {
  parallel_rows(T, n, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t)
      for (std::int64_t i = 0; i < n; ++i) y[t * n + i] += bias[i];
  });
}

void copy_row(float* out, const Matrix& w, std::int64_t row) {
  check_supported(w);
  simd::decode_rows(out, w, row, row + 1);
}

}  // namespace supra::kernels
