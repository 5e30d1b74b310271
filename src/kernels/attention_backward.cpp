// Backward of the attention cores in parallel mode: chunked decayed linear attention (spec
// §3.7) and causal softmax attention (spec §4), plus the training forward of the latter.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/backward.h"

namespace supra::kernels {
namespace {

// The forward's block length (attention.cpp): exact blocks inside, carried state across.
constexpr std::int64_t kChunk = 64;

float dot(const float* a, const float* b, std::int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy(float* y, float a, const float* x, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// The columns of x[T, stride] (first `width` of them) as rows: [width, T]. The softmax kernels
// work on transposed keys and values so that their loops over keys run over contiguous memory
// (head widths are small; sequences are long).
std::vector<float> columns(const float* x, std::int64_t stride, std::int64_t T, std::int64_t width) {
  std::vector<float> out(static_cast<std::size_t>(width * T));
  for (std::int64_t j = 0; j < T; ++j)
    for (std::int64_t e = 0; e < width; ++e) out[e * T + j] = x[j * stride + e];
  return out;
}

// p[0, n) = softmax over keys j < n of c ⟨q, k_j⟩, with kt = keys transposed [d, T].
void causal_probabilities(float* p, const float* q, const float* kt, std::int64_t T, std::int64_t n, std::int64_t d,
                          float scale) {
  std::fill(p, p + n, 0.0f);
  for (std::int64_t e = 0; e < d; ++e) axpy(p, q[e], kt + e * T, n);
  float max_score = -INFINITY;
  for (std::int64_t j = 0; j < n; ++j) {
    p[j] *= scale;
    max_score = std::max(max_score, p[j]);
  }
  double sum = 0.0;
  for (std::int64_t j = 0; j < n; ++j) {
    p[j] = std::exp(p[j] - max_score);
    sum += p[j];
  }
  const float inv = float(1.0 / sum);
#pragma omp simd
  for (std::int64_t j = 0; j < n; ++j) p[j] *= inv;
}

}  // namespace

void linear_attention_backward(float* dq, float* dk, float* dv, const float* d_o, std::int64_t o_stride,
                               const float* q, std::int64_t q_stride, const float* k, std::int64_t k_stride,
                               const float* v, std::int64_t v_stride, std::int64_t T, std::int64_t dqk,
                               std::int64_t dvw, double log_gamma, float scale) {
  std::vector<float> decay(kChunk + 1);  // γ^n, n ≤ kChunk
  for (std::int64_t n = 0; n <= kChunk; ++n) decay[n] = float(std::exp(log_gamma * double(n)));
  std::vector<float> state(static_cast<std::size_t>(dqk * dvw), 0.0f);
  std::vector<float> tmp(static_cast<std::size_t>(std::max(dqk, dvw)));

  // Forward sweep. M = Σ_{j<start} γ^{start−j} c k_jᵀ v_j (the forward's state) gives the
  // history part of dq; inside a block the two score matrices give every intra-block term.
  for (std::int64_t start = 0; start < T; start += kChunk) {
    const std::int64_t n = std::min(kChunk, T - start);
    for (std::int64_t i = 0; i < n; ++i) {
      const float* doi = d_o + (start + i) * o_stride;
      const float* qi = q + (start + i) * q_stride;
      float* dqi = dq + (start + i) * q_stride;
      // dq_i += γ^i M do_i
      for (std::int64_t e = 0; e < dqk; ++e) dqi[e] += decay[i] * dot(&state[e * dvw], doi, dvw);
      for (std::int64_t j = 0; j <= i; ++j) {
        const float* kj = k + (start + j) * k_stride;
        const float* vj = v + (start + j) * v_stride;
        const float w = scale * decay[i - j];
        const float b = w * dot(doi, vj, dvw);  // γ^{i−j} c ⟨do_i, v_j⟩
        const float a = w * dot(qi, kj, dqk);   // γ^{i−j} c ⟨q_i, k_j⟩
        axpy(dqi, b, kj, dqk);
        axpy(dk + (start + j) * k_stride, b, qi, dqk);
        axpy(dv + (start + j) * v_stride, a, doi, dvw);
      }
    }
    const float carry = decay[n];
    for (float& s : state) s *= carry;
    for (std::int64_t j = 0; j < n; ++j) {
      const float* kj = k + (start + j) * k_stride;
      const float* vj = v + (start + j) * v_stride;
      const float w = scale * decay[n - j];
      for (std::int64_t e = 0; e < dqk; ++e) axpy(&state[e * dvw], w * kj[e], vj, dvw);
    }
  }

  // Backward sweep. R = Σ_{t≥end} γ^{t−end} q_tᵀ do_t (end = the block's end) gives the
  // future part of dk and dv: dk_j += c γ^{end−j} R v_j, dv_j += c γ^{end−j} Rᵀ k_j.
  std::fill(state.begin(), state.end(), 0.0f);
  const std::int64_t last_start = ((T - 1) / kChunk) * kChunk;
  for (std::int64_t start = last_start; start >= 0; start -= kChunk) {
    const std::int64_t n = std::min(kChunk, T - start);
    if (start != last_start) {
      for (std::int64_t j = 0; j < n; ++j) {
        const float w = scale * decay[n - j];
        const float* kj = k + (start + j) * k_stride;
        const float* vj = v + (start + j) * v_stride;
        float* dkj = dk + (start + j) * k_stride;
        float* dvj = dv + (start + j) * v_stride;
        std::fill(tmp.begin(), tmp.begin() + dvw, 0.0f);
        for (std::int64_t e = 0; e < dqk; ++e) {
          const float* Re = &state[e * dvw];
          dkj[e] += w * dot(Re, vj, dvw);
          axpy(tmp.data(), kj[e], Re, dvw);
        }
        axpy(dvj, w, tmp.data(), dvw);
      }
    }
    const float carry = decay[n];
    for (float& s : state) s *= carry;
    for (std::int64_t i = 0; i < n; ++i) {
      const float* qi = q + (start + i) * q_stride;
      const float* doi = d_o + (start + i) * o_stride;
      for (std::int64_t e = 0; e < dqk; ++e) axpy(&state[e * dvw], decay[i] * qi[e], doi, dvw);
    }
  }
}

void softmax_attention_backward(float* dq, float* dk, float* dv, const float* d_o, std::int64_t o_stride,
                                const float* q, std::int64_t q_stride, const float* k, std::int64_t k_stride,
                                const float* v, std::int64_t v_stride, std::int64_t T, std::int64_t d,
                                std::int64_t dvw, float scale) {
  const std::vector<float> kt = columns(k, k_stride, T, d), vt = columns(v, v_stride, T, dvw);
  std::vector<float> dkt(static_cast<std::size_t>(d * T), 0.0f), dvt(static_cast<std::size_t>(dvw * T), 0.0f);
  std::vector<float> p(static_cast<std::size_t>(T)), ds(static_cast<std::size_t>(T));
  for (std::int64_t t = 0; t < T; ++t) {
    const std::int64_t n = t + 1;
    const float* qt = q + t * q_stride;
    const float* dot_ = d_o + t * o_stride;
    causal_probabilities(p.data(), qt, kt.data(), T, n, d, scale);
    // dP_j = ⟨do_t, v_j⟩, then dS_j = P_j (dP_j − Σ_l P_l dP_l), times c for d(q·k).
    std::fill(ds.begin(), ds.begin() + n, 0.0f);
    for (std::int64_t f = 0; f < dvw; ++f) axpy(ds.data(), dot_[f], &vt[f * T], n);
    const float pdp = dot(p.data(), ds.data(), n);
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) ds[j] = p[j] * (ds[j] - pdp) * scale;
    float* dqt = dq + t * q_stride;
    for (std::int64_t e = 0; e < d; ++e) {
      dqt[e] += dot(ds.data(), &kt[e * T], n);
      axpy(&dkt[e * T], qt[e], ds.data(), n);
    }
    for (std::int64_t f = 0; f < dvw; ++f) axpy(&dvt[f * T], dot_[f], p.data(), n);
  }
  for (std::int64_t j = 0; j < T; ++j) {
    for (std::int64_t e = 0; e < d; ++e) dk[j * k_stride + e] += dkt[e * T + j];
    for (std::int64_t f = 0; f < dvw; ++f) dv[j * v_stride + f] += dvt[f * T + j];
  }
}

}  // namespace supra::kernels
