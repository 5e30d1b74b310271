// Log-probabilities of the model's own distribution (raw logits, before any sampling
// processor), as OpenAI-compatible servers report them and lm-evaluation-harness sums them.
#pragma once
#include <span>
#include <vector>

#include "serve/sequence.h"

namespace supra::serve {

// log_softmax of one row of logits, in double for the normalizer.
std::vector<float> log_softmax(std::span<const float> logits);

// The entry for `id` given the log-probabilities of its position: its logprob and the `top`
// best alternatives.
TokenLogprob token_logprob(std::span<const float> logprobs, TokenId id, int top);

}  // namespace supra::serve
