// The sampling and stopping flags of `supra generate` and `supra chat`, with llama.cpp's names
// as aliases (--temp, --n-predict, --min-p, --stop), applied over generation_config.json.
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "supra/generate.h"

namespace supra::cli {

struct SamplingFlags {
  std::optional<int> max_new_tokens;
  std::optional<float> temperature, top_p, min_p, repetition_penalty;
  std::optional<int> top_k;
  std::string seed;  // "" or "-1": a fresh random seed, printed to stderr
  std::vector<std::string> stop;
};

void add_sampling_options(CLI::App& cmd, SamplingFlags& flags);

// `defaults` (from generation_config.json) with the flags given on top, validated. An unset
// or -1 seed is drawn at random.
GenerationOptions apply_sampling_flags(const SamplingFlags& flags, GenerationOptions defaults);

// On stderr, once the model is loaded (after any error): "[seed N]" when the seed was drawn at
// random and the run samples (not greedy), so that it can be repeated with --seed N; a note when
// greedy decoding makes the sampling flags given moot.
void announce_sampling(const SamplingFlags& flags, const GenerationOptions& options);

}  // namespace supra::cli
