// Attention cores: decayed linear attention (chunked parallel form and recurrent step,
// spec §3.7-3.8) and causal softmax attention over a KV cache (spec §4).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "kernels/simd.h"

namespace supra::kernels {
namespace {

// Block length of the chunked form: inside a block the T×T decayed score matrix is formed
// directly; across blocks the state carries the history. 64 is the reference kernel's block.
constexpr std::int64_t kChunk = 64;

}  // namespace

void linear_attention_block(float* o, std::int64_t o_stride, float* S, const float* q, std::int64_t q_stride,
                            const float* k, std::int64_t k_stride, const float* v, std::int64_t v_stride,
                            std::int64_t T, std::int64_t dqk, std::int64_t dv, double log_gamma, float scale) {
  // decay[n] = γ^n for n in [0, kChunk]
  std::vector<float> decay(kChunk + 1);
  for (std::int64_t n = 0; n <= kChunk; ++n) decay[n] = float(std::exp(log_gamma * double(n)));
  std::vector<float> scores(kChunk * kChunk);

  for (std::int64_t start = 0; start < T; start += kChunk) {
    const std::int64_t n = std::min(kChunk, T - start);
    // Intra-block scores A[i][j] = γ^{i-j} c ⟨q_i, k_j⟩, j ≤ i.
    for (std::int64_t i = 0; i < n; ++i) {
      const float* qi = q + (start + i) * q_stride;
      for (std::int64_t j = 0; j <= i; ++j) {
        const float* kj = k + (start + j) * k_stride;
        float s = 0.0f;
        for (std::int64_t e = 0; e < dqk; ++e) s += qi[e] * (scale * kj[e]);
        scores[i * kChunk + j] = s * decay[i - j];
      }
    }
    // o_i = Σ_j A[i][j] v_j + γ^i q_i S
    for (std::int64_t i = 0; i < n; ++i) {
      const float* qi = q + (start + i) * q_stride;
      float* oi = o + (start + i) * o_stride;
      for (std::int64_t f = 0; f < dv; ++f) oi[f] = 0.0f;
      for (std::int64_t e = 0; e < dqk; ++e) {
        const float qe = qi[e] * decay[i];
        const float* Se = S + e * dv;
        for (std::int64_t f = 0; f < dv; ++f) oi[f] += qe * Se[f];
      }
      for (std::int64_t j = 0; j <= i; ++j) {
        const float a = scores[i * kChunk + j];
        const float* vj = v + (start + j) * v_stride;
        for (std::int64_t f = 0; f < dv; ++f) oi[f] += a * vj[f];
      }
    }
    // S ← γ^n S + Σ_j γ^{n-j} c k_jᵀ v_j
    const float carry = decay[n];
    for (std::int64_t e = 0; e < dqk * dv; ++e) S[e] *= carry;
    for (std::int64_t j = 0; j < n; ++j) {
      const float* kj = k + (start + j) * k_stride;
      const float* vj = v + (start + j) * v_stride;
      const float w = decay[n - j];
      for (std::int64_t e = 0; e < dqk; ++e) {
        const float ke = w * (scale * kj[e]);
        float* Se = S + e * dv;
        for (std::int64_t f = 0; f < dv; ++f) Se[f] += ke * vj[f];
      }
    }
  }
}

void linear_attention_step(float* o, float* S, const float* q, const float* k, const float* v,
                           std::int64_t dqk, std::int64_t dv, float gamma, float scale) {
  // One fused pass over S: U = S + c kᵀv, o += q U and S ← γ U row by row (S read and written once).
  simd::linear_attention_step(o, S, q, k, v, dqk, dv, gamma, scale);
}

void softmax_attention(float* o, std::int64_t o_stride, const float* q, std::int64_t q_stride,
                       const float* keys, std::int64_t k_stride, const float* values, std::int64_t v_stride,
                       std::int64_t T, std::int64_t first_pos, std::int64_t d, std::int64_t dv, float scale) {
  std::vector<float> p(static_cast<std::size_t>(first_pos + T));
  for (std::int64_t t = 0; t < T; ++t) {
    const float* qt = q + t * q_stride;
    const std::int64_t n_keys = first_pos + t + 1;
    float max_score = -INFINITY;
    for (std::int64_t j = 0; j < n_keys; ++j) {
      const float* kj = keys + j * k_stride;
      float s = 0.0f;
      for (std::int64_t e = 0; e < d; ++e) s += qt[e] * kj[e];
      p[j] = s * scale;
      max_score = std::max(max_score, p[j]);
    }
    double sum = 0.0;
    for (std::int64_t j = 0; j < n_keys; ++j) {
      p[j] = std::exp(p[j] - max_score);
      sum += p[j];
    }
    const float inv = float(1.0 / sum);
    float* ot = o + t * o_stride;
    for (std::int64_t f = 0; f < dv; ++f) ot[f] = 0.0f;
    for (std::int64_t j = 0; j < n_keys; ++j) {
      const float w = p[j] * inv;
      const float* vj = values + j * v_stride;
      for (std::int64_t f = 0; f < dv; ++f) ot[f] += w * vj[f];
    }
  }
}

}  // namespace supra::kernels
