// Activations: the working buffers of one forward run, sized for a number of token rows (all
// sequences of a batch together) and logit rows. They only grow: a caller that reuses one
// across steps allocates nothing once the largest step has run. Contents are scratch; every
// kernel writes what it later reads.
#pragma once
#include <cstdint>
#include <vector>

#include "supra/config.h"

namespace supra {

struct Activations {
  std::vector<float> x;       // residual stream [R, D]
  std::vector<float> z;       // normed input of a sublayer [R, D]; final-norm rows for the logits
  std::vector<float> attn;    // attention sublayer output [R, D]
  std::vector<float> q, k, v;           // projections [R, H·dh], [R, Hkv·dh], [R, Hkv·dv]
  std::vector<float> q_feat, k_feat_kv;  // feature maps [R, H·dqk], [R, Hkv·dqk]
  std::vector<float> k_feat, v_rep;     // kv heads repeated to the query heads [R, H·dqk], [R, H·dv]
  std::vector<float> o;                 // attention core output [R, H·dv]
  std::vector<float> gate, up, down;    // feed-forward [R, F], [R, F], [R, D]
  std::vector<float> logits;            // [logit rows, V]
  std::vector<float> attention_scratch;  // softmax: one slice per thread (scores over the cache)

  // Where each sequence of the run has its rows. Sequences are laid out in ascending order of
  // their row counts (token rows in x..down, logit rows in logits), so that those short enough
  // for the dot-product kernels form one block of rows at the start (see Transformer::run).
  std::vector<std::int64_t> first_row, row_count;      // per sequence: token rows
  std::vector<std::int64_t> first_logit, logit_count;  // per sequence: logit rows
  std::vector<std::size_t> row_order, logit_order;     // sequences by ascending count
  bool fused = false;  // this run multiplies all rows at once (Batch::Rows::Fused)

  // Makes every buffer hold at least what `rows` token rows and `logit_rows` logit rows need.
  void reserve(const ModelConfig& c, std::int64_t rows, std::int64_t logit_rows);
};

}  // namespace supra
