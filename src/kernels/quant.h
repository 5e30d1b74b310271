// Quantizers and dequantizers of the Q8_0 / Q4_0 block formats (supra/tensor.h,
// docs/QUANTIZATION.md). quantize_row_q8_0 and quantize_row_q4_0 round exactly like GGML's
// quantize_row_q8_0_ref / quantize_row_q4_0_ref (bit-identical rows); quantize_row_q4_0_fitted
// writes the same format with least-squares scales, and is what supra stores.
#pragma once
#include <cstddef>
#include <cstdint>

#include "supra/tensor.h"

namespace supra::kernels {

// Encodes n floats (n a multiple of kQuantBlock) into dtype_row_bytes(Q8_0, n) bytes at out.
//   per block: d = max|x| / 127, q = round(x / d)  (d = 0: every q = 0)
void quantize_row_q8_0(const float* x, std::int64_t n, std::byte* out);
// Encodes n floats into dtype_row_bytes(Q4_0, n) bytes at out.
//   per block: m = the element of largest magnitude (sign kept), d = m / -8,
//   n_i = min(15, trunc(x_i / d + 8.5)); element i < 16 goes to the low nibble of byte i,
//   element i ≥ 16 to the high nibble of byte i − 16.
void quantize_row_q4_0(const float* x, std::int64_t n, std::byte* out);
// The same format with each block's scale fitted: for 25 candidate scales around the rule
// above (the extreme at −6.8 … −9.2 steps) the levels are rounded and clamped to [−8, 7],
// the scale that minimises Σ(x − d·l)² for those levels is d = Σxl / Σl², and the candidate
// with the smallest squared error wins. Never worse than quantize_row_q4_0 before the f16
// rounding of d (its levels are candidate k = 0 … up to rounding mode); on stories260K it took
// the q4 perplexity increase from +3.8% to +2.6% (docs/PERFORMANCE.md).
// With `importance` ([n], positive: an importance matrix's E[a_j²] of each input column, see
// supra/quantize.h) the fit minimises Σ_j E[a_j²]·(x_j − d·l_j)², the expected squared error
// of the row's output, instead (d = Σwxl / Σwl²); without it every element weighs 1 exactly as
// before. (llama.cpp also multiplies by sqrt(σ² + x_j²); tried here, it moved the two
// stories260K models' q4 perplexity erratically, from −7 to +8 points, so it is not used.)
void quantize_row_q4_0_fitted(const float* x, std::int64_t n, std::byte* out, const float* importance = nullptr);

void dequantize_row_q8_0(const std::byte* in, std::int64_t n, float* out);
void dequantize_row_q4_0(const std::byte* in, std::int64_t n, float* out);

// Any stored row type (F32, F16, BF16, Q8_0, Q4_0 (fitted, weighted by `importance` when
// given; the other types ignore it)) to and from float32. `in`/`out` need no alignment. Throws
// supra::Error for other types or a block type with n % 32 != 0.
void quantize_row(DType type, const float* x, std::int64_t n, std::byte* out, const float* importance = nullptr);
void dequantize_row(DType type, const std::byte* in, std::int64_t n, float* out);

}  // namespace supra::kernels
