// Text generation: the HF `generate` loop (spec §9) over a Model, independent of how the
// caller shows the tokens.
#pragma once
#include <filesystem>
#include <functional>
#include <vector>

#include "supra/model.h"
#include "supra/sampler.h"

namespace supra {

struct GenerationOptions {
  int max_new_tokens = 256;
  SamplingParams sampling;              // temperature 0 = greedy
  Mode mode = Mode::Hybrid;             // how the prompt and the new tokens are consumed (below)
  std::vector<TokenId> stop_ids;        // EOS id(s): generation stops after producing one
};

// Defaults of a model folder's generation_config.json (HF semantics): sampling only when
// `do_sample` is true, with its temperature / top_k / top_p / repetition_penalty; greedy
// otherwise. `max_new_tokens` and `eos_token_id` (int or list) when present.
// A missing file gives the HF defaults; malformed JSON throws supra::Error naming the file.
GenerationOptions load_generation_defaults(const std::filesystem::path& folder);

// A prompt cache: the state of a model after consuming `tokens`. A fixed-size state makes this
// cheap to keep, to store on disk and to reuse for any prompt that starts with those tokens.
struct PromptCache {
  State state;
  std::vector<TokenId> tokens;
};

struct GenerationResult {
  std::vector<TokenId> tokens;  // the new tokens, including a final stop id if one was produced
  bool stopped_at_eos = false;
  bool stopped_by_caller = false;  // on_token returned false (e.g. a stop string was produced)
  std::size_t cached_prompt_tokens = 0;  // prompt tokens taken from the prompt cache, not recomputed
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// Generates after `prompt` (which must not be empty: start from BOS at least).
//   Recurrent: prompt and new tokens one at a time (HF use_cache=True).
//   Parallel:  the whole sequence re-run in parallel mode for every new token (HF use_cache=False).
//   Hybrid:    parallel prefill of the prompt, then recurrent decoding (the fast path).
// `on_token` is called for each new token as soon as it is chosen; returning false ends the
// generation after that token (a caller's own stop condition, such as a stop string).
// With a `cache` (recurrent and hybrid modes): when cache->tokens is a proper prefix of the
// prompt, generation starts from cache->state and reads only the rest of the prompt; either
// way, after the prompt *cache holds the state before the prompt's last token (so that the
// same prompt again reuses all but one token). Parallel mode re-reads every token by
// definition and leaves the cache alone.
GenerationResult generate(const Model& model, const std::vector<TokenId>& prompt, const GenerationOptions& options,
                          const std::function<bool(TokenId)>& on_token = {}, PromptCache* cache = nullptr);

}  // namespace supra
