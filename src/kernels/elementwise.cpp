// Norms, activations and rotary: row-wise kernels of spec §2.2, §2.4, §3.5, §3.9.
#include <cmath>
#include <cstring>

#include "kernels/backward.h"
#include "kernels/group_stats.h"
#include "kernels/kernels.h"
#include "kernels/simd.h"

namespace supra::kernels {

void rmsnorm(float* y, const float* x, const float* w, std::int64_t T, std::int64_t n, float eps) {
  for (std::int64_t t = 0; t < T; ++t) {
    const float* xr = x + t * n;
    float* yr = y + t * n;
    double ss = 0.0;  // the reference reduces in float32; double keeps us within its rounding
    for (std::int64_t i = 0; i < n; ++i) ss += double(xr[i]) * double(xr[i]);
    const float inv = 1.0f / std::sqrt(float(ss / double(n)) + eps);
    for (std::int64_t i = 0; i < n; ++i) yr[i] = (xr[i] * inv) * w[i];
  }
}

void group_norm(float* y, const float* x, std::int64_t T, std::int64_t H, std::int64_t d, float eps) {
  for (std::int64_t g = 0; g < T * H; ++g) {
    const float* xr = x + g * d;
    float* yr = y + g * d;
    const GroupStats st = group_stats(xr, d, eps);
    for (std::int64_t i = 0; i < d; ++i) yr[i] = float((xr[i] - st.mean) * st.inv_std);
  }
}

void silu_mul(float* out, const float* gate, const float* up, std::int64_t n) { simd::silu_mul(out, gate, up, n); }

void repeat_kv_heads(float* dst, const float* src, std::int64_t T, std::int64_t Hkv, std::int64_t H, std::int64_t d) {
  const std::int64_t r = H / Hkv;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t h = 0; h < H; ++h)
      std::memcpy(dst + (t * H + h) * d, src + (t * Hkv + h / r) * d, static_cast<std::size_t>(d) * sizeof(float));
}

void relu(float* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

namespace {

// Rotates each head's channel pairs (i, i + rot_dim/2) by `direction` · pos · inv_freq[i]:
// +1 is rope, −1 its inverse (the backward). The angle itself is the float32 product of the
// reference; only the sine's sign changes, which is exact.
void rotate_half_split(float* x, std::int64_t T, std::int64_t heads, std::int64_t head_dim, std::int64_t rot_dim,
                       std::int64_t first_pos, const float* inv_freq, float direction) {
  const std::int64_t half = rot_dim / 2;
  for (std::int64_t t = 0; t < T; ++t) {
    const float pos = float(first_pos + t);
    for (std::int64_t i = 0; i < half; ++i) {
      const float angle = pos * inv_freq[i];
      const float c = std::cos(angle), s = direction * std::sin(angle);
      for (std::int64_t h = 0; h < heads; ++h) {
        float* xh = x + (t * heads + h) * head_dim;
        const float a = xh[i], b = xh[i + half];
        xh[i] = a * c - b * s;
        xh[i + half] = b * c + a * s;
      }
    }
  }
}

}  // namespace

void rope(float* x, std::int64_t T, std::int64_t heads, std::int64_t head_dim, std::int64_t rot_dim,
          std::int64_t first_pos, const float* inv_freq) {
  rotate_half_split(x, T, heads, head_dim, rot_dim, first_pos, inv_freq, 1.0f);
}

void rope_backward(float* dx, std::int64_t T, std::int64_t heads, std::int64_t head_dim, std::int64_t rot_dim,
                   std::int64_t first_pos, const float* inv_freq) {
  rotate_half_split(dx, T, heads, head_dim, rot_dim, first_pos, inv_freq, -1.0f);
}

}  // namespace supra::kernels
