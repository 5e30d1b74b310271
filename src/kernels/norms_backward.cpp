// Backward of the row-wise kernels (norms, activations, rotary) and the fused
// cross-entropy + z-loss gradient.
#include <algorithm>
#include <cmath>

#include "kernels/backward.h"
#include "kernels/group_stats.h"

namespace supra::kernels {

void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, std::int64_t N,
                      std::int64_t n, float eps) {
  for (std::int64_t t = 0; t < N; ++t) {
    const float* xr = x + t * n;
    const float* dyr = dy + t * n;
    float* dxr = dx + t * n;
    double ss = 0.0;
    for (std::int64_t i = 0; i < n; ++i) ss += double(xr[i]) * double(xr[i]);
    // r exactly as the forward computes it (float32 from a double sum of squares).
    const float r = 1.0f / std::sqrt(float(ss / double(n)) + eps);
    double dot = 0.0;  // Σ dy ⊙ w ⊙ x
    for (std::int64_t i = 0; i < n; ++i) dot += double(dyr[i]) * double(w[i]) * double(xr[i]);
    const float k = float(dot * double(r) * double(r) * double(r) / double(n));
    for (std::int64_t i = 0; i < n; ++i) {
      dxr[i] += r * dyr[i] * w[i] - k * xr[i];
      dw[i] += dyr[i] * xr[i] * r;
    }
  }
}

void group_norm_backward(float* dx, const float* dy, const float* x, std::int64_t N, std::int64_t H, std::int64_t d,
                         float eps) {
  for (std::int64_t g = 0; g < N * H; ++g) {
    const float* xr = x + g * d;
    const float* dyr = dy + g * d;
    float* dxr = dx + g * d;
    const auto [mean, r] = group_stats(xr, d, eps);
    double mean_dy = 0.0, mean_dy_y = 0.0;
    for (std::int64_t i = 0; i < d; ++i) {
      mean_dy += dyr[i];
      mean_dy_y += dyr[i] * (xr[i] - mean) * r;
    }
    mean_dy /= double(d);
    mean_dy_y /= double(d);
    for (std::int64_t i = 0; i < d; ++i) {
      const double y = (xr[i] - mean) * r;
      dxr[i] += float(r * (dyr[i] - mean_dy - y * mean_dy_y));
    }
  }
}

void silu_mul_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                       std::int64_t n) {
#pragma omp parallel for schedule(static) if (n >= (std::int64_t{1} << 16))
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float sig = 1.0f / (1.0f + std::exp(-g));
    const float silu = g * sig;
    dup[i] = dout[i] * silu;
    dgate[i] = dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
  }
}

void relu_backward(float* dy, const float* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

CrossEntropySums cross_entropy_zloss(float* dlogits, const float* logits, const std::int32_t* targets,
                                     std::int64_t N, std::int64_t V, double z_coef) {
  double ce = 0.0, lse_sq = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : ce, lse_sq) if (N * V >= (std::int64_t{1} << 16))
  for (std::int64_t t = 0; t < N; ++t) {
    const float* l = logits + t * V;
    const float m = *std::max_element(l, l + V);
    double sum = 0.0;
    for (std::int64_t v = 0; v < V; ++v) sum += std::exp(double(l[v] - m));
    const double lse = double(m) + std::log(sum);
    ce += lse - double(l[targets[t]]);
    lse_sq += lse * lse;
    if (dlogits == nullptr) continue;
    // d/dl_v [(lse − l_y) + z lse²] / N = (p_v (1 + 2 z lse) − [v = y]) / N
    const double inv_n = 1.0 / double(N);
    const double scale = (1.0 + 2.0 * z_coef * lse) * inv_n;
    float* dl = dlogits + t * V;
    const std::int32_t y = targets[t];
    for (std::int64_t v = 0; v < V; ++v) {
      const double p = std::exp(double(l[v]) - lse);
      dl[v] = float(p * scale - (v == y ? inv_n : 0.0));
    }
  }
  return {ce, lse_sq};
}

}  // namespace supra::kernels
