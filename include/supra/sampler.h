// Sampler: HF `generate` logits processing and sampling (spec §9), independent of the model,
// plus OpenAI's additive adjustments (frequency/presence penalties, logit_bias), which the HF
// pipeline lacks. Order per step:
//   repetition penalty -> frequency/presence penalties -> logit_bias -> [greedy: argmax here]
//   -> temperature -> top-k -> top-p -> min-p -> softmax -> sample.
// The OpenAI adjustments sit after the (multiplicative) HF repetition penalty, so the HF order
// and results are unchanged whenever they are neutral, and their values are added exactly as
// given. temperature == 0 means greedy: argmax of the scores after the penalties and the bias.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "supra/tokenizer.h"

namespace supra {

struct SamplingParams {
  float temperature = 1.0f;         // 0 = greedy
  int top_k = 50;                   // HF GenerationConfig default; 0 disables
  float top_p = 1.0f;               // 1 disables
  float repetition_penalty = 1.0f;  // 1 disables
  float min_p = 0.0f;               // llama.cpp / HF min-p; 0 disables
  // OpenAI's penalties over the tokens this Sampler has drawn (the generated tokens, not the
  // prompt): logit[j] -= count[j] * frequency_penalty + (count[j] > 0) * presence_penalty.
  float frequency_penalty = 0.0f;   // 0 disables
  float presence_penalty = 0.0f;    // 0 disables
  // OpenAI's logit_bias: (id, bias) added to the logit of id; ids are checked against the
  // logits' length when applied.
  std::vector<std::pair<TokenId, float>> logit_bias = {};
  std::uint64_t seed = 0;

  // Throws supra::Error with the flag name for out-of-range values (temperature < 0 or not
  // finite, top_k < 0, top_p outside (0, 1], penalty <= 0, min_p outside [0, 1], frequency or
  // presence penalty or a bias not finite, a bias id < 0).
  void validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // Chooses the next token. `logits` (length V) is modified in place (processed scores);
  // `history` is every id of the sequence so far (prompt incl. BOS, then generated). The
  // chosen token is counted for the frequency/presence penalties of later calls.
  TokenId sample(std::span<float> logits, std::span<const TokenId> history);

 private:
  TokenId warp_and_draw(std::span<float> logits);  // temperature .. min-p, softmax, draw

  SamplingParams params_;
  std::mt19937_64 rng_;
  // id -> times drawn, kept when a frequency/presence penalty is on (a short list: the
  // distinct generated ids)
  std::vector<std::pair<TokenId, int>> drawn_;
};

// The processors, exposed for tests and for other clients (server, eval).
void apply_repetition_penalty(std::span<float> logits, std::span<const TokenId> history, float penalty);
void apply_temperature(std::span<float> logits, float temperature);
void apply_top_k(std::span<float> logits, int k);    // below the k-th largest -> -inf (ties kept)
void apply_top_p(std::span<float> logits, float p);  // HF TopPLogitsWarper semantics
// Tokens whose probability is below p times the most likely token's -> -inf (llama.cpp's
// min-p, HF MinPLogitsWarper): in scores, below max + log(p). The most likely always stays.
void apply_min_p(std::span<float> logits, float p);
// logit[id] -= count * frequency + presence for each (id, count > 0) of `counts` (OpenAI).
void apply_frequency_presence(std::span<float> logits, std::span<const std::pair<TokenId, int>> counts,
                              float frequency, float presence);
// logit[id] += bias for each (id, bias); an id outside the logits throws supra::Error.
void apply_logit_bias(std::span<float> logits, std::span<const std::pair<TokenId, float>> bias);
TokenId argmax(std::span<const float> logits);       // first index of the maximum

}  // namespace supra
