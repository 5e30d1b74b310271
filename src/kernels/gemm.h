// Prefill GEMMs through oneDNN: y[T, w.rows] = x[T, w.cols] · wᵀ for many tokens at once, where
// a cache-blocked GEMM beats streaming dot products, and the float products of the chunked
// linear attention. Internal to supra_kernels.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/matrix.h"

namespace supra::kernels {

// From this many tokens on, matmul() hands the work to gemm() (below it, the dot-product kernels
// are at the memory-bandwidth limit already and a GEMM would only add the weight decode).
inline constexpr std::int64_t kGemmMinTokens = 16;
// Block-quantized weights go to the GEMM only from this many tokens: gemm() decodes the whole
// matrix into float panels on every call, which a batched decode step (N sequences = N rows)
// would pay per token. Below it, the integer dot products run over chunks of rows
// (kMaxDotRows each) while a work item's weight rows stay in cache. Measured on a 5632x2048
// matrix, 2 AVX-512 VNNI threads (ms, dot products / GEMM): Q8_0 64 rows 27 / 38, 128 rows
// 51 / 41; Q4_0 (interleaved) 128 rows 18 / 42, 256 rows 76 / 56.
inline constexpr std::int64_t kQuantGemmMinTokens = 128;
inline constexpr std::int64_t kMaxDotRows = kGemmMinTokens - 1;

// The token count from which matmul() hands weights of this type to gemm().
inline std::int64_t gemm_min_tokens(DType weights) {
  return is_block_quantized(weights) ? kQuantGemmMinTokens : kGemmMinTokens;
}

// Any weight dtype. F32 weights go to oneDNN's sgemm as stored; other types are decoded into
// float32 panels of rows first (the decode is O(rows·cols), the GEMM O(T·rows·cols)). Where the
// CPU multiplies bf16 natively (bf16_gemm_native), every type but F32 goes to a bf16 matmul
// instead, with the activations rounded to bf16: BF16 weights as stored, others as panels
// rounded to bf16.
void gemm(float* y, const float* x, const Matrix& w, std::int64_t T);

// How gemm() multiplies weights of this type on this CPU, in words ("oneDNN sgemm", ...).
std::string gemm_path(DType weights);

// Whether oneDNN runs bf16 matmuls natively on this CPU (AVX512-BF16 or AMX tiles), so that
// gemm() multiplies in bf16 with float32 sums (gemm_in_bf16). Elsewhere (AVX2, plain AVX-512)
// oneDNN has no bf16 matmul or only an emulated one, and gemm() stays in float32.
bool bf16_gemm_native();

// Whether gemm() multiplies weights of this type in bf16 (activations and weights rounded to
// bf16, float32 sums): every type but F32, where bf16_gemm_native().
bool gemm_in_bf16(DType weights);

// y[T, N] (rows ldy apart) = x[T, K] · wᵀ, w row-major [N, K], x and w of type `type` (F32 or
// BF16), y float32: oneDNN's matmul primitive. Throws supra::Error when oneDNN cannot run it
// (bf16 on a CPU without bf16 support, for one).
void matmul_primitive(float* y, std::int64_t ldy, const void* x, const void* w, DType type, std::int64_t T,
                      std::int64_t N, std::int64_t K);

// out[n] = x[n] rounded to bf16 (nearest even), by oneDNN's reorder (vectorized, threaded).
void round_to_bf16(std::uint16_t* out, const float* x, std::int64_t n);

// Row-major C[M, N] = alpha · op(A) · op(B) + beta · C, op 'N' (as stored) or 'T' (transposed),
// leading dimensions in elements: oneDNN's sgemm. Inside a parallel region it runs on the
// calling thread. Throws supra::Error when oneDNN reports a failure.
void sgemm(char trans_a, char trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
           std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc);

}  // namespace supra::kernels
