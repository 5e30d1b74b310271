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

}  // namespace

void sgemm(char trans_a, char trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
           std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc) {
  const dnnl_status_t st = dnnl_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (st != dnnl_success) throw Error("oneDNN sgemm failed (status " + std::to_string(int(st)) + ")");
}

void gemm(float* y, const float* x, const Matrix& w, std::int64_t T) {
  if (w.dtype == DType::F32) {
    sgemm('N', 'T', T, w.rows, w.cols, 1.0f, x, w.cols, reinterpret_cast<const float*>(w.data), w.cols, 0.0f, y,
          w.rows);
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
    sgemm('N', 'T', T, n, w.cols, 1.0f, x, w.cols, buf, w.cols, 0.0f, y + r0, w.rows);
  }
}

}  // namespace supra::kernels
