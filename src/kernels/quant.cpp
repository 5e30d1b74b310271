// Block quantization with GGML's reference rounding (ggml-quants.c, *_ref functions).
#include "kernels/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "supra/error.h"

namespace supra::kernels {
namespace {

constexpr std::int64_t QK = kQuantBlock;

void store_f16(std::byte* p, float v) {
  const std::uint16_t bits = f32_to_f16(v);
  std::memcpy(p, &bits, sizeof bits);
}

float load_f16(const std::byte* p) {
  std::uint16_t bits;
  std::memcpy(&bits, p, sizeof bits);
  return f16_to_f32(bits);
}

void check_blocks(DType type, std::int64_t n) {
  (void)dtype_row_bytes(type, n);  // throws for a partial block
}

}  // namespace

void quantize_row_q8_0(const float* x, std::int64_t n, std::byte* out) {
  check_blocks(DType::Q8_0, n);
  for (std::int64_t b = 0; b < n / QK; ++b, x += QK, out += kQ8_0BlockBytes) {
    float amax = 0.0f;
    for (std::int64_t j = 0; j < QK; ++j) amax = std::max(amax, std::fabs(x[j]));
    // The inverse scale comes from the float d, not from its f16 rounding: GGML does the same.
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(out, d);
    for (std::int64_t j = 0; j < QK; ++j) {
      const auto q = static_cast<std::int8_t>(std::round(x[j] * id));
      std::memcpy(out + 2 + j, &q, 1);
    }
  }
}

namespace {

// The element of a block with the largest magnitude, sign kept (the first of equals).
float signed_extreme(const float* x) {
  float amax = 0.0f, max = 0.0f;
  for (std::int64_t j = 0; j < QK; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  return max;
}

}  // namespace

void quantize_row_q4_0(const float* x, std::int64_t n, std::byte* out) {
  check_blocks(DType::Q4_0, n);
  for (std::int64_t b = 0; b < n / QK; ++b, x += QK, out += kQ4_0BlockBytes) {
    // The signed extreme maps to -8 exactly, so the asymmetric range [-8, 7] is fully used.
    const float d = signed_extreme(x) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_f16(out, d);
    for (std::int64_t j = 0; j < QK / 2; ++j) {
      // (int8_t) truncates toward zero; x·id + 8.5 ≥ 0 by construction, so this is round-half-up.
      const auto lo = static_cast<std::uint8_t>(std::min<int>(15, static_cast<std::int8_t>(x[j] * id + 8.5f)));
      const auto hi =
          static_cast<std::uint8_t>(std::min<int>(15, static_cast<std::int8_t>(x[j + QK / 2] * id + 8.5f)));
      out[2 + j] = static_cast<std::byte>(lo | (hi << 4));
    }
  }
}

void quantize_row_q4_0_fitted(const float* x, std::int64_t n, std::byte* out, const float* importance) {
  check_blocks(DType::Q4_0, n);
  // Candidate scales around the reference rule's (the extreme at −8 ± 1.2 steps); for each,
  // the levels are rounded and clamped to [−8, 7] and the scale refitted to them.
  for (std::int64_t b = 0; b < n / QK; ++b, x += QK, out += kQ4_0BlockBytes) {
    // Each element's weight in the fit: its input column's E[a²], or 1 without importance.
    double weight[QK];
    for (std::int64_t j = 0; j < QK; ++j) weight[j] = importance ? double(importance[b * QK + j]) : 1.0;
    const float max = signed_extreme(x);
    int best_levels[QK] = {};
    float best_d = 0.0f;
    if (max != 0.0f) {
      double best_gain = -1.0;
      for (int k = -12; k <= 12; ++k) {
        const float id = (-8.0f + 0.1f * static_cast<float>(k)) / max;  // 1/d of this candidate
        int levels[QK];
        double xl = 0, ll = 0;
        for (std::int64_t j = 0; j < QK; ++j) {
          levels[j] = std::clamp(static_cast<int>(std::lround(x[j] * id)), -8, 7);
          xl += weight[j] * x[j] * levels[j];
          ll += weight[j] * levels[j] * levels[j];
        }
        // With the least-squares scale d = Σwxl / Σwl², the weighted squared error is
        // Σwx² − (Σwxl)²/Σwl² (w = 1 without importance).
        if (ll > 0 && xl * xl / ll > best_gain) {
          best_gain = xl * xl / ll;
          best_d = static_cast<float>(xl / ll);
          std::copy(levels, levels + QK, best_levels);
        }
      }
    }
    store_f16(out, best_d);
    for (std::int64_t j = 0; j < QK / 2; ++j)
      out[2 + j] = static_cast<std::byte>((best_levels[j] + 8) | ((best_levels[j + QK / 2] + 8) << 4));
  }
}

void dequantize_row_q8_0(const std::byte* in, std::int64_t n, float* out) {
  check_blocks(DType::Q8_0, n);
  for (std::int64_t b = 0; b < n / QK; ++b, in += kQ8_0BlockBytes, out += QK) {
    const float d = load_f16(in);
    for (std::int64_t j = 0; j < QK; ++j) out[j] = d * static_cast<float>(static_cast<std::int8_t>(in[2 + j]));
  }
}

void dequantize_row_q4_0(const std::byte* in, std::int64_t n, float* out) {
  check_blocks(DType::Q4_0, n);
  for (std::int64_t b = 0; b < n / QK; ++b, in += kQ4_0BlockBytes, out += QK) {
    const float d = load_f16(in);
    for (std::int64_t j = 0; j < QK / 2; ++j) {
      const auto byte = static_cast<unsigned>(in[2 + j]);
      out[j] = d * static_cast<float>(static_cast<int>(byte & 15u) - 8);
      out[j + QK / 2] = d * static_cast<float>(static_cast<int>(byte >> 4) - 8);
    }
  }
}

void quantize_row(DType type, const float* x, std::int64_t n, std::byte* out, const float* importance) {
  switch (type) {
    case DType::F32: std::memcpy(out, x, static_cast<std::size_t>(n) * sizeof(float)); return;
    case DType::BF16:
    case DType::F16:
      for (std::int64_t i = 0; i < n; ++i) {
        const std::uint16_t bits = type == DType::BF16 ? f32_to_bf16(x[i]) : f32_to_f16(x[i]);
        std::memcpy(out + 2 * i, &bits, sizeof bits);
      }
      return;
    case DType::Q8_0: quantize_row_q8_0(x, n, out); return;
    case DType::Q4_0: quantize_row_q4_0_fitted(x, n, out, importance); return;
    default: throw Error("quantize_row: cannot store rows as " + std::string(dtype_name(type)));
  }
}

void dequantize_row(DType type, const std::byte* in, std::int64_t n, float* out) {
  switch (type) {
    case DType::F32: std::memcpy(out, in, static_cast<std::size_t>(n) * sizeof(float)); return;
    case DType::BF16:
    case DType::F16:
      for (std::int64_t i = 0; i < n; ++i) {
        std::uint16_t bits;
        std::memcpy(&bits, in + 2 * i, sizeof bits);
        out[i] = type == DType::BF16 ? bf16_to_f32(bits) : f16_to_f32(bits);
      }
      return;
    case DType::Q8_0: dequantize_row_q8_0(in, n, out); return;
    case DType::Q4_0: dequantize_row_q4_0(in, n, out); return;
    default: throw Error("dequantize_row: cannot read rows of " + std::string(dtype_name(type)));
  }
}

}  // namespace supra::kernels
