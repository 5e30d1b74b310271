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

// Rows decoded to float32 per GEMM call: large enough that the GEMM re-reads the activations
// rarely, small enough (≤ 512 × 14336 × 4 B ≈ 29 MB at the 7B shape) to bound the scratch.
constexpr std::int64_t kPanelRows = 512;

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
  thread_local std::vector<float> panel;
  panel.resize(static_cast<std::size_t>(std::min(kPanelRows, w.rows) * w.cols));
  float* const buf = panel.data();
  for (std::int64_t r0 = 0; r0 < w.rows; r0 += kPanelRows) {
    const std::int64_t n = std::min(kPanelRows, w.rows - r0);
#pragma omp parallel for schedule(static)
    for (std::int64_t r = r0; r < r0 + n; ++r) simd::decode_rows(buf + (r - r0) * w.cols, w, r, r + 1);
    sgemm(y + r0, w.rows, x, buf, T, n, w.cols);
  }
}

}  // namespace supra::kernels
