// Transformer: the decoder stack (spec §2) with SUPRA linear attention (§3) or softmax
// attention (§4), run over a span of tokens continuing from a State.
#pragma once
#include <functional>
#include <span>
#include <vector>

#include "model/weights.h"
#include "supra/model.h"

namespace supra {

// How the attention core consumes the tokens of one call.
enum class AttentionPath {
  Block,  // all tokens at once (chunked linear attention / causal softmax over the cache)
  Step,   // exactly one token, recurrent update (requires ids.size() == 1)
};

// Sees every matrix product's input rows [rows, w.cols] before the product (supra imatrix
// collects activation statistics with it).
using MatmulObserver = std::function<void(const kernels::Matrix& w, const float* x, std::int64_t rows)>;

class Transformer {
 public:
  Transformer(const ModelConfig& config, const Weights& weights, MatmulObserver observer = {});

  State new_state() const;

  // Runs `ids` after `state`, advancing it; returns logits per `wanted`.
  std::vector<float> run(std::span<const TokenId> ids, State& state, AttentionPath path, LogitsWanted wanted,
                         const TraceFn& trace) const;

 private:
  void linear_attention(float* out, const float* z, std::int64_t T, std::int64_t pos, LayerState& ls,
                        const LayerWeights& lw, AttentionPath path, int layer, const TraceFn& trace) const;
  void softmax_attention(float* out, const float* z, std::int64_t T, std::int64_t pos, LayerState& ls,
                         const LayerWeights& lw, int layer, const TraceFn& trace) const;
  void feed_forward(float* x, std::int64_t T, const LayerWeights& lw) const;
  // out[T, w.rows] = x[T, w.cols] · wᵀ, shown to the observer first.
  void project(float* out, const float* x, const kernels::Matrix& w, std::int64_t T) const;

  const ModelConfig& c_;
  const Weights& w_;
  std::vector<float> inv_freq_;
  std::vector<float> slopes_;
  MatmulObserver observer_;
};

}  // namespace supra
