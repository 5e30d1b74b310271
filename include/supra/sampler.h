// Sampler: HF `generate` logits processing and sampling (spec §9), independent of the model.
// Order per step: repetition penalty -> temperature -> top-k -> top-p -> min-p -> softmax -> sample.
// temperature == 0 means greedy: argmax of the scores after the repetition penalty only.
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "supra/tokenizer.h"

namespace supra {

struct SamplingParams {
  float temperature = 1.0f;         // 0 = greedy
  int top_k = 50;                   // HF GenerationConfig default; 0 disables
  float top_p = 1.0f;               // 1 disables
  float repetition_penalty = 1.0f;  // 1 disables
  float min_p = 0.0f;               // llama.cpp / HF min-p; 0 disables
  std::uint64_t seed = 0;

  // Throws supra::Error with the flag name for out-of-range values (temperature < 0 or not
  // finite, top_k < 0, top_p outside (0, 1], penalty <= 0, min_p outside [0, 1]).
  void validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // Chooses the next token. `logits` (length V) is modified in place (processed scores);
  // `history` is every id of the sequence so far (prompt incl. BOS, then generated).
  TokenId sample(std::span<float> logits, std::span<const TokenId> history);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

// The processors, exposed for tests and for other clients (server, eval).
void apply_repetition_penalty(std::span<float> logits, std::span<const TokenId> history, float penalty);
void apply_temperature(std::span<float> logits, float temperature);
void apply_top_k(std::span<float> logits, int k);    // below the k-th largest -> -inf (ties kept)
void apply_top_p(std::span<float> logits, float p);  // HF TopPLogitsWarper semantics
// Tokens whose probability is below p times the most likely token's -> -inf (llama.cpp's
// min-p, HF MinPLogitsWarper): in scores, below max + log(p). The most likely always stays.
void apply_min_p(std::span<float> logits, float p);
TokenId argmax(std::span<const float> logits);       // first index of the maximum

}  // namespace supra
