#include "model/activations.h"

#include <algorithm>

namespace supra {
namespace {

void grow(std::vector<float>& buffer, std::int64_t n) {
  if (buffer.size() < static_cast<std::size_t>(n)) buffer.resize(static_cast<std::size_t>(n));
}

}  // namespace

void Activations::reserve(const ModelConfig& c, std::int64_t rows, std::int64_t logit_rows) {
  const std::int64_t D = c.dim, H = c.n_heads, Hkv = c.n_kv_heads, F = c.ffn_dim;
  // Projections are head_dim wide for SUPRA (features are qk_dim), qk_dim wide for softmax.
  const std::int64_t dh = std::max(c.head_dim, c.qk_dim), dqk = c.qk_dim, dv = c.v_dim;
  grow(x, rows * D);
  grow(z, std::max(rows, logit_rows) * D);
  grow(attn, rows * D);
  grow(q, rows * H * dh);
  grow(k, rows * Hkv * dh);
  grow(v, rows * Hkv * dv);
  grow(q_feat, rows * H * dqk);
  grow(k_feat_kv, rows * Hkv * dqk);
  grow(k_feat, rows * H * dqk);
  grow(v_rep, rows * H * dv);
  grow(o, rows * H * dv);
  grow(gate, rows * F);
  grow(up, rows * F);
  grow(down, rows * D);
  grow(logits, logit_rows * c.vocab_size);
}

}  // namespace supra
