// Norms, activations and rotary: row-wise kernels of spec §2.2, §2.4, §3.5, §3.9.
#include <cmath>
#include <cstring>

#include "kernels/backward.h"
#include "kernels/group_stats.h"
#include "kernels/kernels.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"

namespace supra::kernels {

void rmsnorm(float* y, const float* x, const float* w, std::int64_t T, std::int64_t n, float eps) {
  parallel_rows(T, n, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const float inv = 1.0f / std::sqrt(float(simd::sum_squares(x + t * n, n) / double(n)) + eps);
      simd::scale_mul(y + t * n, x + t * n, inv, w, n);
    }
  });
}

void group_norm(float* y, const float* x, std::int64_t T, std::int64_t H, std::int64_t d, float eps) {
  parallel_rows(T * H, d, [&](std::int64_t g0, std::int64_t g1) {
    for (std::int64_t g = g0; g < g1; ++g) {
      const float* xr = x + g * d;
      float* yr = y + g * d;
      const GroupStats st = group_stats(xr, d, eps);
      for (std::int64_t i = 0; i < d; ++i) yr[i] = float((xr[i] - st.mean) * st.inv_std);
    }
  });
}

void silu_mul(float* out, const float* gate, const float* up, std::int64_t n) {
  parallel_elements(n, [&](std::int64_t i0, std::int64_t i1) { simd::silu_mul(out + i0, gate + i0, up + i0, i1 - i0); });
}

void add(float* y, const float* x, std::int64_t n) {
  parallel_elements(n, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) y[i] += x[i];
  });
}

void repeat_kv_heads(float* dst, const float* src, std::int64_t T, std::int64_t Hkv, std::int64_t H, std::int64_t d) {
  const std::int64_t r = H / Hkv;
  parallel_rows(T, H * d, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t)
      for (std::int64_t h = 0; h < H; ++h)
        std::memcpy(dst + (t * H + h) * d, src + (t * Hkv + h / r) * d, static_cast<std::size_t>(d) * sizeof(float));
  });
}

void relu(float* x, std::int64_t n) {
  parallel_elements(n, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
  });
}

namespace {

// Rotates each head's channel pairs (i, i + rot_dim/2) by `direction` · pos · inv_freq[i]:
// +1 is rope, −1 its inverse (the backward). The angle itself is the float32 product of the
// reference; only the sine's sign changes, which is exact.
void rotate_half_split(float* x, std::int64_t T, std::int64_t heads, std::int64_t head_dim, std::int64_t rot_dim,
                       std::int64_t first_pos, const float* inv_freq, float direction) {
  const std::int64_t half = rot_dim / 2;
  parallel_rows(T, heads * head_dim, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
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
  });
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
