// Reference quantizers and dequantizers of the Q8_0 / Q4_0 block formats (supra/tensor.h,
// docs/QUANTIZATION.md). They round exactly like GGML's quantize_row_q8_0_ref /
// quantize_row_q4_0_ref, so a row quantized here is bit-identical to llama.cpp's.
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

void dequantize_row_q8_0(const std::byte* in, std::int64_t n, float* out);
void dequantize_row_q4_0(const std::byte* in, std::int64_t n, float* out);

// Any stored row type (F32, F16, BF16, Q8_0, Q4_0) to and from float32. `in`/`out` need no
// alignment. Throws supra::Error for other types or a block type with n % 32 != 0.
void quantize_row(DType type, const float* x, std::int64_t n, std::byte* out);
void dequantize_row(DType type, const std::byte* in, std::int64_t n, float* out);

}  // namespace supra::kernels
