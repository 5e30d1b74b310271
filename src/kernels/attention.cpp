// Attention cores: decayed linear attention (chunked parallel form and recurrent step,
// spec §3.7-3.8) and causal softmax attention over a KV cache (spec §4).
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/simd.h"

namespace supra::kernels {
namespace {

// Block length of the chunked form: inside a block the T×T decayed score matrix is formed
// directly; across blocks the state carries the history. 64 is the reference kernel's block.
constexpr std::int64_t kChunk = 64;

// Query rows per tile of the softmax attention's score matrix.
constexpr std::int64_t kSoftmaxTile = 64;

// Makes v hold at least n elements, keeping its memory when it already does.
void grow(std::vector<float>& v, std::int64_t n) {
  if (v.size() < static_cast<std::size_t>(n)) v.resize(static_cast<std::size_t>(n));
}

}  // namespace

void linear_attention_block(float* o, std::int64_t o_stride, float* S, const float* q, std::int64_t q_stride,
                            const float* k, std::int64_t k_stride, const float* v, std::int64_t v_stride,
                            std::int64_t T, std::int64_t dqk, std::int64_t dv, double log_gamma, float scale) {
  // decay[n] = γ^n for n in [0, kChunk]
  // Per-thread scratch, grown once: prefill chunks allocate nothing.
  thread_local std::vector<float> decay, scores, rows;
  grow(decay, kChunk + 1);
  for (std::int64_t n = 0; n <= kChunk; ++n) decay[n] = float(std::exp(log_gamma * double(n)));
  grow(scores, kChunk * kChunk);
  grow(rows, kChunk * dqk);

  // Per block of n tokens, four GEMMs (row-major, the block's rows read in place):
  for (std::int64_t start = 0; start < T; start += kChunk) {
    const std::int64_t n = std::min(kChunk, T - start);
    const float* qb = q + start * q_stride;
    const float* kb = k + start * k_stride;
    const float* vb = v + start * v_stride;
    float* ob = o + start * o_stride;
    // A = c Q Kᵀ [n, n], then the causal decay mask: A[i][j] = γ^{i-j} c ⟨q_i, k_j⟩ for j ≤ i, else 0.
    sgemm('N', 'T', n, n, dqk, scale, qb, q_stride, kb, k_stride, 0.0f, scores.data(), n);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) scores[i * n + j] = j <= i ? scores[i * n + j] * decay[i - j] : 0.0f;
    // O = A V, then O += diag(γ^i) Q S: the block's own tokens and the history before it.
    sgemm('N', 'N', n, dv, n, 1.0f, scores.data(), n, vb, v_stride, 0.0f, ob, o_stride);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t e = 0; e < dqk; ++e) rows[i * dqk + e] = qb[i * q_stride + e] * decay[i];
    sgemm('N', 'N', n, dv, dqk, 1.0f, rows.data(), dqk, S, dv, 1.0f, ob, o_stride);
    // S ← γ^n S + Kwᵀ V with Kw = diag(c γ^{n-j}) K.
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t e = 0; e < dqk; ++e) rows[j * dqk + e] = kb[j * k_stride + e] * (scale * decay[n - j]);
    sgemm('T', 'N', dqk, dv, n, 1.0f, rows.data(), dqk, vb, v_stride, decay[n], S, dv);
  }
}

void linear_attention_step(float* o, float* S, const float* q, const float* k, const float* v,
                           std::int64_t dqk, std::int64_t dv, float gamma, float scale) {
  // One fused pass over S: U = S + c kᵀv, o += q U and S ← γ U row by row (S read and written once).
  simd::linear_attention_step(o, S, q, k, v, dqk, dv, gamma, scale);
}

std::int64_t softmax_attention_scratch(std::int64_t T, std::int64_t first_pos, std::int64_t heads, std::int64_t d,
                                       std::int64_t dv) {
  const std::int64_t tokens_per_tile = std::max<std::int64_t>(1, kSoftmaxTile / heads);
  const std::int64_t rows = std::min(tokens_per_tile, T) * heads;
  return rows * (d + first_pos + T + dv);  // q tile, scores over every key, o tile
}

void softmax_attention(float* o, std::int64_t o_stride, const float* q, std::int64_t q_stride, std::int64_t heads,
                       const float* keys, std::int64_t k_stride, const float* values, std::int64_t v_stride,
                       std::int64_t T, std::int64_t first_pos, std::int64_t d, std::int64_t dv, float scale,
                       float* scratch) {
  // Tiles of query rows, a row per (token, head): P = c Q Kᵀ over the keys the tile's last
  // token sees (one GEMM), a causal softmax per row, O = P V (one GEMM). The heads of a kv group
  // share one pass over the cache, so the keys and values are read once for all of them (in
  // decode, that read is the cost). A tile bounds the scores at kSoftmaxTile rows however long
  // the cache, and its masked corner is at most half a tile of wasted products.
  const std::int64_t tokens_per_tile = std::max<std::int64_t>(1, kSoftmaxTile / heads);
  const std::int64_t max_rows = std::min(tokens_per_tile, T) * heads;
  float* q_tile = scratch;
  float* o_tile = q_tile + max_rows * d;
  float* p = o_tile + max_rows * dv;
  for (std::int64_t t0 = 0; t0 < T; t0 += tokens_per_tile) {
    const std::int64_t m = std::min(tokens_per_tile, T - t0), rows = m * heads;
    const std::int64_t n_keys = first_pos + t0 + m;
    for (std::int64_t i = 0; i < m; ++i) std::copy_n(q + (t0 + i) * q_stride, heads * d, q_tile + i * heads * d);
    sgemm('N', 'T', rows, n_keys, d, scale, q_tile, d, keys, k_stride, 0.0f, p, n_keys);
    for (std::int64_t r = 0; r < rows; ++r) {
      float* row = p + r * n_keys;
      const std::int64_t seen = first_pos + t0 + r / heads + 1;  // keys 0 .. the row's own position
      const float max_score = *std::max_element(row, row + seen);
      double sum = 0.0;
      for (std::int64_t j = 0; j < seen; ++j) {
        row[j] = std::exp(row[j] - max_score);
        sum += row[j];
      }
      const float inv = float(1.0 / sum);
      for (std::int64_t j = 0; j < seen; ++j) row[j] *= inv;
      std::fill(row + seen, row + n_keys, 0.0f);
    }
    sgemm('N', 'N', rows, dv, n_keys, 1.0f, p, n_keys, values, v_stride, 0.0f, o_tile, dv);
    for (std::int64_t i = 0; i < m; ++i) std::copy_n(o_tile + i * heads * dv, heads * dv, o + (t0 + i) * o_stride);
  }
}

}  // namespace supra::kernels
