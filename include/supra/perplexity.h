// Token perplexity of a text, two ways:
//   windowed  llama.cpp's `perplexity` rules, so numbers compare with its reports: the whole
//             text tokenized once (BOS first when the tokenizer adds one), cut into
//             non-overlapping windows of `context` tokens, each window read from a fresh state
//             with its first token replaced by BOS (when the tokenizer adds one), and only the
//             second half of each window scored (every scored token has context/2 tokens of
//             history). PPL = exp(mean NLL), with the running value after each window.
//   streamed  what a recurrent model can do and a windowed transformer cannot: one state carried
//             across the whole text, read in parallel chunks, every token after the first
//             scored with all of the text before it. No context limit.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "supra/model.h"
#include "supra/tokenizer.h"

namespace supra::eval {

struct WindowedPerplexity {
  int context = 0;              // tokens per window
  std::int64_t windows = 0;
  std::int64_t scored_tokens = 0;
  double perplexity = 0;
  std::vector<double> running;  // perplexity over the windows so far, one per window
};

struct StreamedPerplexity {
  int chunk = 0;                // tokens per parallel forward call
  std::int64_t scored_tokens = 0;
  double perplexity = 0;
};

// The tokens llama.cpp scores: the whole text with BOS first when the tokenizer adds BOS.
std::vector<TokenId> perplexity_tokens(const Tokenizer& tokenizer, const std::string& text);

// Windows of `context` tokens (floor(n / context) of them; a text shorter than one window is
// one window of all its tokens, where llama.cpp would refuse). `bos` replaces each window's
// first token when given (>= 0). Throws supra::Error when nothing can be scored.
WindowedPerplexity windowed_perplexity(const Model& model, std::span<const TokenId> tokens, int context,
                                       TokenId bos);

// Throws supra::Error for fewer than 2 tokens.
StreamedPerplexity streamed_perplexity(const Model& model, std::span<const TokenId> tokens, int chunk = 512);

}  // namespace supra::eval
