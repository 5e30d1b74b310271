#include "supra/perplexity.h"

#include <algorithm>
#include <cmath>

#include "supra/error.h"

namespace supra::eval {
namespace {

// -log softmax(row)[target], in float64 over float32 logits.
double negative_log_prob(std::span<const float> row, TokenId target) {
  const double max = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (const float x : row) sum += std::exp(static_cast<double>(x) - max);
  return max + std::log(sum) - static_cast<double>(row[static_cast<std::size_t>(target)]);
}

// Sum of -log p(targets[i] | row i) over the first targets.size() rows of [rows, vocab] logits.
double negative_log_likelihood(const std::vector<float>& logits, std::size_t vocab, std::span<const TokenId> targets) {
  double nll = 0;
  for (std::size_t i = 0; i < targets.size(); ++i)
    nll += negative_log_prob(std::span<const float>(logits.data() + i * vocab, vocab), targets[i]);
  return nll;
}

}  // namespace

std::vector<TokenId> perplexity_tokens(const Tokenizer& tokenizer, const std::string& text) {
  return tokenizer.encode(text, /*with_bos=*/true);
}

WindowedPerplexity windowed_perplexity(const Model& model, std::span<const TokenId> tokens, int context,
                                       TokenId bos) {
  if (context < 2) throw Error("the perplexity window must hold at least 2 tokens, got " + std::to_string(context));
  const auto n = static_cast<std::int64_t>(tokens.size());
  const std::int64_t length = std::min<std::int64_t>(context, n);
  // Fewer than 3 tokens leave no scored token after the unscored first half.
  if (length < 3) throw Error("the text has " + std::to_string(n) + " tokens: too few to score a window");
  const auto vocab = static_cast<std::size_t>(model.config().vocab_size);
  WindowedPerplexity result;
  result.context = context;
  result.windows = n / length;
  double nll = 0;
  for (std::int64_t w = 0; w < result.windows; ++w) {
    std::vector<TokenId> window(tokens.begin() + w * length, tokens.begin() + (w + 1) * length);
    if (bos >= 0) window[0] = bos;
    // The first half only builds the state; logits are computed for the scored half alone.
    const std::int64_t first = length / 2;
    State state = model.new_state();
    const std::span<const TokenId> ids = window;
    model.forward(ids.first(static_cast<std::size_t>(first)), state, Mode::Parallel, LogitsWanted::None);
    const std::span<const TokenId> scored = ids.subspan(static_cast<std::size_t>(first));
    const std::vector<float> logits =
        model.forward(scored.first(scored.size() - 1), state, Mode::Parallel, LogitsWanted::All);
    nll += negative_log_likelihood(logits, vocab, scored.subspan(1));
    result.scored_tokens += static_cast<std::int64_t>(scored.size()) - 1;
    result.running.push_back(std::exp(nll / static_cast<double>(result.scored_tokens)));
  }
  result.perplexity = result.running.back();
  return result;
}

StreamedPerplexity streamed_perplexity(const Model& model, std::span<const TokenId> tokens, int chunk) {
  if (chunk < 1) throw Error("the streaming chunk must hold at least 1 token, got " + std::to_string(chunk));
  if (tokens.size() < 2) throw Error("the text has " + std::to_string(tokens.size()) + " tokens: too few to score");
  StreamedPerplexity result;
  result.chunk = chunk;
  State state = model.new_state();
  double nll = 0;
  // Each chunk's logits score the chunk's next tokens; the last token's logits (LogitsWanted::All
  // keeps them) carry over to score the first token of the next chunk.
  std::vector<float> carried;
  const auto size = static_cast<std::size_t>(chunk);
  for (std::size_t start = 0; start < tokens.size(); start += size) {
    const std::span<const TokenId> ids = tokens.subspan(start, std::min(size, tokens.size() - start));
    if (!carried.empty()) nll += negative_log_prob(carried, ids[0]);
    std::vector<float> logits = model.forward(ids, state, Mode::Parallel, LogitsWanted::All);
    const std::size_t vocab = logits.size() / ids.size();
    nll += negative_log_likelihood(logits, vocab, ids.subspan(1));
    carried.assign(logits.end() - static_cast<std::ptrdiff_t>(vocab), logits.end());
  }
  result.scored_tokens = static_cast<std::int64_t>(tokens.size()) - 1;
  result.perplexity = std::exp(nll / static_cast<double>(result.scored_tokens));
  return result;
}

}  // namespace supra::eval
