// oneDNN GEMM for prefill. oneDNN picks its own kernel for the CPU (AVX2/AVX-512 sgemm) and
// threads with the same OpenMP runtime as the rest of supra.
#include "kernels/gemm.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/simd.h"
#include "supra/error.h"

namespace supra::kernels {
namespace {

// Weights decoded to float32 per GEMM call, in bytes: a panel of 512 rows ran at 131
// GFLOP/s against 159-175 for 2048+ rows (oneDNN sgemm, T = 512, k = 2048, 2 AVX2 cores),
// and 32 MiB bounds the scratch at any shape.
constexpr std::int64_t kPanelBytes = std::int64_t{32} << 20;
constexpr std::int64_t kMinPanelRows = 64;

void sgemm(float* y, std::int64_t ldy, const float* x, const float* w, std::int64_t T, std::int64_t n,
           std::int64_t k) {
  // Row-major C[T, n] = A[T, k] · B[n, k]ᵀ.
  const dnnl_status_t st = dnnl_sgemm('N', 'T', T, n, k, 1.0f, x, k, w, k, 0.0f, y, ldy);
  if (st != dnnl_success) throw Error("matmul: oneDNN sgemm failed (status " + std::to_string(int(st)) + ")");
}

}  // namespace

void gemm(float* y, const float* x, const Matrix& w, std::int64_t T) {
  if (w.dtype == DType::F32) {
    sgemm(y, w.rows, x, reinterpret_cast<const float*>(w.data), T, w.rows, w.cols);
    return;
  }
  // Reused across calls by the calling thread (the workers below write through `buf`).
  const std::int64_t panel_rows =
      std::min(w.rows, std::max(kMinPanelRows, kPanelBytes / (w.cols * std::int64_t{sizeof(float)})));
  thread_local std::vector<float> panel;
  panel.resize(static_cast<std::size_t>(panel_rows * w.cols));
  float* const buf = panel.data();
  for (std::int64_t r0 = 0; r0 < w.rows; r0 += panel_rows) {
    const std::int64_t n = std::min(panel_rows, w.rows - r0);
#pragma omp parallel for schedule(static)
    for (std::int64_t r = r0; r < r0 + n; ++r) simd::decode_rows(buf + (r - r0) * w.cols, w, r, r + 1);
    sgemm(y + r0, w.rows, x, buf, T, n, w.cols);
  }
}

}  // namespace supra::kernels
