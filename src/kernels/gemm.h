// Prefill GEMMs through oneDNN: y[T, w.rows] = x[T, w.cols] · wᵀ for many tokens at once, where
// a cache-blocked GEMM beats streaming dot products, and the float products of the chunked
// linear attention. Internal to supra_kernels.
#pragma once
#include <cstdint>

#include "kernels/matrix.h"

namespace supra::kernels {

// From this many tokens on, matmul() hands the work to gemm() (below it, the dot-product kernels
// are at the memory-bandwidth limit already and a GEMM would only add the weight decode).
inline constexpr std::int64_t kGemmMinTokens = 16;

// Any weight dtype: F32 weights go to oneDNN's sgemm as stored; other types are decoded into
// float32 panels of rows first (the decode is O(rows·cols), the GEMM O(T·rows·cols)).
void gemm(float* y, const float* x, const Matrix& w, std::int64_t T);

// Row-major C[M, N] = alpha · op(A) · op(B) + beta · C, op 'N' (as stored) or 'T' (transposed),
// leading dimensions in elements: oneDNN's sgemm. Inside a parallel region it runs on the
// calling thread. Throws supra::Error when oneDNN reports a failure.
void sgemm(char trans_a, char trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
           std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc);

}  // namespace supra::kernels
