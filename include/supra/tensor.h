// Element types and read-only tensor views handed out by the io layer.
// A view never owns its bytes: they live in a memory-mapped file (or a buffer)
// owned by whoever produced the view, which must outlive it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace supra {

// Q8_0 and Q4_0 are block-quantized weight formats with GGML's byte layout (docs/QUANTIZATION.md):
// 32 consecutive elements of a row form one block, the row length must be a multiple of 32.
//   Q8_0 block (34 bytes): f16 scale d, int8 q[32];            x_i = d · q_i
//   Q4_0 block (18 bytes): f16 scale d, uint8 nibbles[16];     x_i = d · (n_i − 8), where
//                          n_i = nibbles[i] & 15 for i < 16 and nibbles[i − 16] >> 4 for i ≥ 16
enum class DType : std::uint8_t { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool, Q8_0, Q4_0 };

inline constexpr std::int64_t kQuantBlock = 32;  // elements per Q8_0 / Q4_0 block
inline constexpr std::size_t kQ8_0BlockBytes = 34;
inline constexpr std::size_t kQ4_0BlockBytes = 18;

bool is_block_quantized(DType t);  // Q8_0, Q4_0
// Bytes of one element; throws supra::Error for block-quantized types (use dtype_row_bytes).
std::size_t dtype_size(DType t);
// Bytes of `count` consecutive elements (a row); for block types `count` must be a multiple of
// kQuantBlock (throws supra::Error otherwise).
std::size_t dtype_row_bytes(DType t, std::int64_t count);
std::string_view dtype_name(DType t);  // safetensors spelling: "F32", "BF16", ...; "Q8_0", "Q4_0"

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  const std::byte* data = nullptr;  // contiguous, row-major
  std::size_t nbytes = 0;

  std::int64_t numel() const;
  std::string shape_string() const;  // "[2, 37, 512]"
};

// Widening conversions used by loaders and tests (exact for BF16/F16 -> F32).
float bf16_to_f32(std::uint16_t bits);
float f16_to_f32(std::uint16_t bits);
std::uint16_t f32_to_bf16(float value);  // round to nearest even, like torch
// Round to nearest even (IEEE binary16, like F16C's vcvtps2ph and GGML_FP32_TO_FP16): overflow
// gives inf, NaN stays NaN.
std::uint16_t f32_to_f16(float value);

// Copies any floating view into float32 (throws supra::Error for non-float dtypes).
std::vector<float> to_f32(const TensorView& view);
// Copies an integer view (I64/I32) into int64.
std::vector<std::int64_t> to_i64(const TensorView& view);

}  // namespace supra
