// Scorer: lm-eval's HFLM log-likelihood rules (shared docs/lm-eval-protocol.md §4) on a
// recurrent model. A request's model input is its truncated context (the "head") followed by
// all continuation tokens but the last; the head is read once per distinct head, each
// continuation runs on a copy of the head's state.
#include <algorithm>
#include <cmath>

#include "supra/error.h"
#include "supra/eval.h"

namespace supra::eval {
namespace {

std::size_t common_prefix(std::span<const TokenId> a, std::span<const TokenId> b) {
  const auto [end_a, end_b] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return static_cast<std::size_t>(end_a - a.begin());
}

bool starts_with(std::span<const TokenId> text, std::span<const TokenId> prefix) {
  return prefix.size() <= text.size() && common_prefix(text, prefix) == prefix.size();
}

// log softmax(row)[target] in float64 over float32 logits, and whether target is the argmax
// (first index on ties, as torch.argmax).
double log_prob(std::span<const float> row, TokenId target, bool& is_argmax) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < row.size(); ++i)
    if (row[i] > row[best]) best = i;
  const double max = row[best];
  double sum = 0;
  for (const float x : row) sum += std::exp(static_cast<double>(x) - max);
  is_argmax = best == static_cast<std::size_t>(target);
  return static_cast<double>(row[static_cast<std::size_t>(target)]) - max - std::log(sum);
}

}  // namespace

Scorer::Scorer(const Model& model, int max_length) : model_(model), max_length_(max_length) {
  if (max_length < 1) throw Error("the scorer's max_length must be at least 1, got " + std::to_string(max_length));
  shared_.state = model_.new_state();
  last_.state = model_.new_state();
}

void Scorer::advance(Checkpoint& checkpoint, std::span<const TokenId> ids) {
  if (ids.empty()) return;
  checkpoint.logits = model_.forward(ids, checkpoint.state, Mode::Parallel, LogitsWanted::Last);
  checkpoint.tokens.insert(checkpoint.tokens.end(), ids.begin(), ids.end());
  tokens_processed_ += static_cast<std::int64_t>(ids.size());
}

const Scorer::Checkpoint& Scorer::read_head(std::span<const TokenId> head) {
  if (std::ranges::equal(head, last_.tokens)) return last_;
  // The part this head shares with the previous one becomes the new shared_ checkpoint: for
  // documents after a task's first two this is the few-shot header, which is then never read
  // again. A state cannot be rewound, so the walk starts from shared_ only when it is a prefix.
  const std::size_t shared_length = common_prefix(last_.tokens, head);
  Checkpoint at;
  if (starts_with(head, shared_.tokens)) {
    at = shared_;
  } else {
    at.state = model_.new_state();
  }
  advance(at, head.subspan(at.tokens.size(), shared_length - at.tokens.size()));
  shared_ = at;
  advance(at, head.subspan(shared_length));
  last_ = std::move(at);
  return last_;
}

ChoiceScore Scorer::score_one(const EncodedRequest& request) {
  const std::span<const TokenId> context = request.context;
  const std::span<const TokenId> continuation = request.continuation;
  if (continuation.empty()) throw Error("a request has an empty continuation: nothing to score");
  // inp = (context + continuation)[-(max_length + 1):][:-1]
  const std::size_t full = context.size() + continuation.size();
  const std::size_t kept = std::min(full, static_cast<std::size_t>(max_length_) + 1);
  const std::size_t cut = full - kept;
  if (kept <= continuation.size())
    throw Error("a request's continuation (" + std::to_string(continuation.size()) +
                " tokens) leaves no context to predict it from within " + std::to_string(max_length_) +
                " tokens");
  ChoiceScore score;
  score.input_len = static_cast<std::int64_t>(kept - 1);
  score.truncated = static_cast<std::int64_t>(cut);

  // The head's last logits predict the first continuation token; the continuation but its last
  // token, read after a copy of the head's state, predicts the rest.
  const Checkpoint& head = read_head(context.subspan(cut));
  bool greedy = true;
  bool is_argmax = false;
  score.loglikelihood = log_prob(head.logits, continuation[0], is_argmax);
  greedy = greedy && is_argmax;
  if (continuation.size() > 1) {
    State fork = head.state;
    const std::span<const TokenId> inputs = continuation.first(continuation.size() - 1);
    const std::vector<float> logits = model_.forward(inputs, fork, Mode::Parallel, LogitsWanted::All);
    tokens_processed_ += static_cast<std::int64_t>(inputs.size());
    const std::size_t vocab = logits.size() / inputs.size();
    for (std::size_t j = 1; j < continuation.size(); ++j) {
      const std::span<const float> row(logits.data() + (j - 1) * vocab, vocab);
      score.loglikelihood += log_prob(row, continuation[j], is_argmax);
      greedy = greedy && is_argmax;
    }
  }
  score.is_greedy = greedy;
  return score;
}

std::vector<ChoiceScore> Scorer::score(const std::vector<EncodedRequest>& requests) {
  std::vector<ChoiceScore> scores;
  scores.reserve(requests.size());
  for (const EncodedRequest& request : requests) scores.push_back(score_one(request));
  return scores;
}

}  // namespace supra::eval
