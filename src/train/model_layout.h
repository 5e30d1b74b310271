// Where each weight of the architecture lives in a ParameterSet: the tensor table
// (model/tensor_table.h) bound to parameter indices, as inference binds it to mapped bytes
// (OpenLM keys with or without the HF "model." prefix, HF Llama/Mistral keys, in_proj sliced
// into q/k/v rows and w12 into gate and up).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "model/tensor_table.h"
#include "train/trainable_model.h"

namespace supra::train {

struct TrainableModel::Layout {
  // Rows [row0, row0 + rows) of a [*, cols] parameter: a contiguous block of its data.
  struct Mat {
    std::size_t param = 0;
    std::int64_t row0 = 0, rows = 0, cols = 0;
  };
  struct Vec {
    std::size_t param = 0;
    std::int64_t n = 0;
  };
  struct Layer {
    Mat wq, wk, wv, wo, w_gate, w_up, w_down;  // named as in model/weights.h
    Vec attn_norm, ffn_norm;
    Mat feat_q, feat_k;            // SUPRA; feat_k is feat_q when H == Hkv
    Vec feat_q_bias, feat_k_bias;  // SUPRA
    Vec q_norm, k_norm;            // SUPRA with apply_qk_norm
  };
  // Every (layer, role) bound above, in table order (for a vector, rows = n and cols = 0): what
  // a view of the parameters as inference weights binds.
  struct Binding {
    int layer = -1;
    TensorRole role = TensorRole::Embed;
    Mat mat;
  };
  std::vector<Binding> bindings;
  Mat embed;              // [V, D]
  Mat output;             // the embedding itself when tied
  Vec final_norm;
  std::vector<Layer> layers;
  std::vector<float> inv_freq;  // rotary (spec §3.5)
  std::vector<float> slopes;    // decay λ_h per query head (spec §3.6)
};

// Binds `params` to the architecture of `config`; first drops the tensors inference ignores
// and a tied output matrix that duplicates the embedding. Throws supra::Error for a missing,
// mis-shaped or unexpected tensor.
std::shared_ptr<const TrainableModel::Layout> bind_layout(const ModelConfig& config, ParameterSet& params);

}  // namespace supra::train
