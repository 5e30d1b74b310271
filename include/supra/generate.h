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

struct GenerationResult {
  std::vector<TokenId> tokens;  // the new tokens, including a final stop id if one was produced
  bool stopped_at_eos = false;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// Generates after `prompt` (which must not be empty: start from BOS at least).
//   Recurrent: prompt and new tokens one at a time (HF use_cache=True).
//   Parallel:  the whole sequence re-run in parallel mode for every new token (HF use_cache=False).
//   Hybrid:    parallel prefill of the prompt, then recurrent decoding (the fast path).
// `on_token` is called for each new token as soon as it is chosen.
GenerationResult generate(const Model& model, const std::vector<TokenId>& prompt, const GenerationOptions& options,
                          const std::function<void(TokenId)>& on_token = {});

}  // namespace supra
