// The scorer's arithmetic: one token's log-probability under the softmax of a row of logits,
// the way lm-eval's HFLM computes it (float64 over float32 logits), vectorised: over a 32K
// vocabulary this, not the model, is most of the time of scoring a small model.
#pragma once
#include <span>

#include "supra/tokenizer.h"

namespace supra::eval {

struct TokenLogProb {
  double log_prob = 0;     // log softmax(row)[target], in float64
  bool is_argmax = false;  // target is the first index of the row's maximum (torch.argmax)
};

// `row` must not be empty and `target` must index it.
TokenLogProb token_log_prob(std::span<const float> row, TokenId target);

}  // namespace supra::eval
