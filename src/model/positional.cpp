#include "model/positional.h"

#include <cmath>

namespace supra {

std::vector<float> rotary_inv_freq(const ModelConfig& c) {
  std::vector<float> inv(static_cast<std::size_t>(c.head_dim / 2));
  for (std::size_t i = 0; i < inv.size(); ++i) {
    const float exponent = float(2 * i) / float(c.head_dim);
    inv[i] = 1.0f / (float(c.rope_scale) * std::pow(float(c.rope_base), exponent));
  }
  return inv;
}

std::vector<float> decay_slopes(const ModelConfig& c) {
  const int H = c.n_heads;
  std::vector<float> slopes(static_cast<std::size_t>(H), 0.0f);
  if (c.attention != AttentionKind::Linear || !c.use_decay) return slopes;
  for (int h = 0; h < H; ++h) {
    double lambda;
    if (c.retnet_slopes) {
      lambda = -std::log(1.0 - std::pow(2.0, -5.0 - h));
    } else {
      // Lightning-attention slopes: ratio = 2^(-2^-(log2 H - 3)), λ_h = start · ratio^h (Python doubles).
      const double ratio = std::pow(2.0, -std::pow(2.0, -(std::log2(double(H)) - 3.0)));
      const double start = c.decay_start.value_or(ratio);
      lambda = start * std::pow(ratio, h);
    }
    slopes[static_cast<std::size_t>(h)] = float(lambda);
  }
  return slopes;
}

}  // namespace supra
