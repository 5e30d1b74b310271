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

enum class DType : std::uint8_t { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

std::size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // safetensors spelling: "F32", "BF16", ...

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

// Copies any floating view into float32 (throws supra::Error for non-float dtypes).
std::vector<float> to_f32(const TensorView& view);
// Copies an integer view (I64/I32) into int64.
std::vector<std::int64_t> to_i64(const TensorView& view);

}  // namespace supra
