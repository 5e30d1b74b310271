// Weights: the tensors of one model, bound by role to typed fields through the tensor table
// (model/tensor_table.h), shapes checked against the config. Matrices stay in their stored dtype and point
// into the mapped checkpoint; small vectors (norm gains, biases) are widened to float32.
#pragma once
#include <cstddef>
#include <vector>

#include "kernels/matrix.h"
#include "model/tensor_table.h"
#include "supra/checkpoint.h"
#include "supra/config.h"

namespace supra {

struct LayerWeights {
  kernels::Matrix wq, wk, wv;       // [H·dh, D], [Hkv·dh, D], [Hkv·dv, D] (slices of in_proj for OpenLM)
  kernels::Matrix wo;               // [D, H·dv]
  kernels::Matrix w_gate, w_up;     // [F, D] each (halves of w12 for OpenLM: gate first)
  kernels::Matrix w_down;           // [D, F]
  std::vector<float> attn_norm;     // [D]
  std::vector<float> ffn_norm;      // [D]
  // SUPRA only (spec §3.2, §3.4)
  kernels::Matrix feat_q;           // [H·dqk, H·dh]      _totrain_embed
  std::vector<float> feat_q_bias;   // [H·dqk]
  kernels::Matrix feat_k;           // [Hkv·dqk, Hkv·dh]  _totrain_embed_kv (= feat_q when H == Hkv)
  std::vector<float> feat_k_bias;   // [Hkv·dqk]
  std::vector<float> q_norm, k_norm;  // [H·dqk] when apply_qk_norm
};

struct Weights {
  kernels::Matrix embed;            // [V, D]
  kernels::Matrix output;           // [V, D] (= embed when tied)
  std::vector<float> final_norm;    // [D]
  std::vector<LayerWeights> layers;
  std::vector<std::vector<std::byte>> owned;  // copies of tensors whose mapped bytes were misaligned
};

// Binds every tensor of the config's tensor table (under the checkpoint's naming); throws supra::Error naming the tensor, the file and
// the expected vs actual shape for a missing, mis-shaped, wrongly typed or unexpected tensor.
Weights bind_weights(const Checkpoint& checkpoint, const ModelConfig& config);

// Rewrites every Q8_0/Q4_0 matrix multiplied in decode (an untied embedding is only looked up)
// into the layout the decode kernels of this CPU read (kernels::decode_layout: Lanes16 on
// AVX-512 VNNI, Q4_0 Interleaved8 elsewhere): in place when it is one of w.owned's copies, else
// into a new copy (the mapped file's pages are then released). For inference only: the matrices no longer
// match the file's bytes, so exporters and quantizers bind without it.
void interleave_for_decode(Weights& w);

// bind_weights, then interleave_for_decode: the weights a model runs on.
Weights bind_for_inference(const Checkpoint& checkpoint, const ModelConfig& config);

}  // namespace supra
