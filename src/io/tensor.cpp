// Element types, views and the scalar conversions every loader and test relies on.
#include "supra/tensor.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "supra/error.h"

namespace supra {

// Tensor bytes are used in place from files written on little-endian machines.
static_assert(std::endian::native == std::endian::little, "supra assumes a little-endian host");

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64:
    case DType::I64: return 8;
    case DType::F32:
    case DType::I32: return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16: return 2;
    case DType::I8:
    case DType::U8:
    case DType::Bool: return 1;
    case DType::Q8_0:
    case DType::Q4_0: throw Error("dtype_size: " + std::string(dtype_name(t)) + " has no per-element size");
  }
  throw Error("dtype_size: invalid DType value " + std::to_string(static_cast<int>(t)));
}

bool is_block_quantized(DType t) { return t == DType::Q8_0 || t == DType::Q4_0; }

std::size_t dtype_row_bytes(DType t, std::int64_t count) {
  if (count < 0) throw Error("dtype_row_bytes: negative element count");
  if (!is_block_quantized(t)) return static_cast<std::size_t>(count) * dtype_size(t);
  if (count % kQuantBlock != 0)
    throw Error(std::string(dtype_name(t)) + " rows must hold a multiple of " + std::to_string(kQuantBlock) +
                " elements, got " + std::to_string(count));
  const std::size_t block = t == DType::Q8_0 ? kQ8_0BlockBytes : kQ4_0BlockBytes;
  return static_cast<std::size_t>(count / kQuantBlock) * block;
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
    case DType::Q8_0: return "Q8_0";
    case DType::Q4_0: return "Q4_0";
  }
  throw Error("dtype_name: invalid DType value " + std::to_string(static_cast<int>(t)));
}

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

float bf16_to_f32(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

float f16_to_f32(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  std::uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0x1F) {  // inf / NaN: keep the payload
    return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal half: normalise it, every one is a normal float.
    exponent = 127 - 15 + 1;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    mantissa &= 0x3FFu;
    return std::bit_cast<float>(sign | (exponent << 23) | (mantissa << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

std::uint16_t f32_to_bf16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) {
    // NaN: truncating could clear every mantissa bit and make it inf; force a quiet bit.
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  }
  const std::uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);  // ties go to the even result
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

std::uint16_t f32_to_f16(float value) {
  // GGML's portable fp32_to_fp16 (from the FP16 library): the float additions do the
  // round-to-nearest-even of the mantissa, subnormals included.
  const float scale_to_inf = 0x1.0p+112f;
  const float scale_to_zero = 0x1.0p-110f;
  float base = (std::fabs(value) * scale_to_inf) * scale_to_zero;
  const std::uint32_t w = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t shl1_w = w + w;
  const std::uint32_t sign = w & 0x80000000u;
  std::uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(base);
  const std::uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const std::uint32_t mantissa_bits = bits & 0x00000FFFu;
  const std::uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<std::uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

namespace {

// Views may be unaligned (they point into files), so every element is read with memcpy.
template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename Out, typename In, typename Convert>
std::vector<Out> convert_all(const TensorView& view, Convert convert) {
  const std::size_t n = view.nbytes / sizeof(In);
  std::vector<Out> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = convert(load<In>(view.data + i * sizeof(In)));
  return out;
}

}  // namespace

std::vector<float> to_f32(const TensorView& view) {
  switch (view.dtype) {
    case DType::F32: return convert_all<float, float>(view, [](float v) { return v; });
    case DType::F16: return convert_all<float, std::uint16_t>(view, f16_to_f32);
    case DType::BF16: return convert_all<float, std::uint16_t>(view, bf16_to_f32);
    case DType::F64:
      return convert_all<float, double>(view, [](double v) { return static_cast<float>(v); });
    default:
      throw Error("tensor '" + view.name + "': expected a floating dtype, found " +
                  std::string(dtype_name(view.dtype)));
  }
}

std::vector<std::int64_t> to_i64(const TensorView& view) {
  auto widen = [](auto v) { return static_cast<std::int64_t>(v); };
  switch (view.dtype) {
    case DType::I64: return convert_all<std::int64_t, std::int64_t>(view, widen);
    case DType::I32: return convert_all<std::int64_t, std::int32_t>(view, widen);
    case DType::I16: return convert_all<std::int64_t, std::int16_t>(view, widen);
    case DType::I8: return convert_all<std::int64_t, std::int8_t>(view, widen);
    case DType::U8:
    case DType::Bool: return convert_all<std::int64_t, std::uint8_t>(view, widen);
    default:
      throw Error("tensor '" + view.name + "': expected an integer dtype, found " +
                  std::string(dtype_name(view.dtype)));
  }
}

}  // namespace supra
