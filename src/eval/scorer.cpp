// Scorer: lm-eval's HFLM log-likelihood rules (shared docs/lm-eval-protocol.md §4) on a
// recurrent model, in batched steps. A request's model input is its truncated context (the
// "head") followed by all continuation tokens but the last; each distinct head is read once
// (after the header it shares with its neighbours, read once too), each continuation runs on a
// copy of its head's state.
#include <algorithm>

#include "eval/log_softmax.h"
#include "kernels/thread_pool.h"
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

// A batched step reads at most this many tokens, unless one sequence alone is longer: the
// step's activations and logits (all of a continuation's rows, 32K floats each on a Llama
// vocabulary) stay within what the longest unbatched request (a 2048-token window) needs.
constexpr std::size_t kStepTokens = 2048;

// Calls body(begin, end) for consecutive runs of [0, n) that make one batched step each: at
// most `batch` sequences and kStepTokens tokens (tokens(i) for sequence i), or one sequence.
template <class Tokens, class Body>
void in_steps(std::size_t n, std::size_t batch, const Tokens& tokens, const Body& body) {
  for (std::size_t begin = 0, end = 0; begin < n; begin = end) {
    std::size_t total = tokens(begin);
    for (end = begin + 1; end < n && end - begin < batch && total + tokens(end) <= kStepTokens; ++end)
      total += tokens(end);
    body(begin, end);
  }
}

}  // namespace

struct Scorer::Request {
  std::span<const TokenId> head;  // the context after left truncation
  std::span<const TokenId> continuation;
  std::size_t context = 0;  // index of `head` among the group's distinct contexts
  ChoiceScore score;
};

Scorer::Scorer(const Model& model, int max_length, int batch_size)
    : model_(model), max_length_(max_length), batch_size_(batch_size) {
  if (max_length < 1) throw Error("the scorer's max_length must be at least 1, got " + std::to_string(max_length));
  if (batch_size < 1) throw Error("the scorer's batch size must be at least 1, got " + std::to_string(batch_size));
}

void Scorer::check(const EncodedRequest& request) const {
  if (request.continuation.empty()) throw Error("a request has an empty continuation: nothing to score");
  const std::size_t full = request.context.size() + request.continuation.size();
  const std::size_t kept = std::min(full, static_cast<std::size_t>(max_length_) + 1);
  if (kept <= request.continuation.size())
    throw Error("a request's continuation (" + std::to_string(request.continuation.size()) +
                " tokens) leaves no context to predict it from within " + std::to_string(max_length_) +
                " tokens");
  const TokenId vocab = model_.config().vocab_size;
  for (const auto* ids : {&request.context, &request.continuation})
    for (const TokenId id : *ids)
      if (id < 0 || id >= vocab)
        throw Error("token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                    std::to_string(vocab));
}

void Scorer::step(std::span<const Sequence> sequences) {
  batch_.clear();
  for (const Sequence& s : sequences) {
    batch_.add(s.ids, *s.state, s.wanted);
    tokens_processed_ += static_cast<std::int64_t>(s.ids.size());
  }
  model_.forward(batch_);
}

std::vector<ChoiceScore> Scorer::score(const std::vector<EncodedRequest>& requests) {
  return score_documents({requests}).front();
}

std::vector<std::vector<ChoiceScore>> Scorer::score_documents(
    const std::vector<std::vector<EncodedRequest>>& documents) {
  for (const std::vector<EncodedRequest>& requests : documents)
    for (const EncodedRequest& request : requests) check(request);

  std::vector<std::vector<ChoiceScore>> scores(documents.size());
  std::vector<Request> group;
  std::vector<std::size_t> members;  // the group's documents
  std::size_t contexts = 0;          // distinct contexts in the group
  const auto score_members = [&] {
    score_group(group, contexts);
    auto next = group.begin();
    for (const std::size_t d : members)
      for (std::size_t k = 0; k < documents[d].size(); ++k) scores[d].push_back((next++)->score);
    group.clear();
    members.clear();
    contexts = 0;
  };
  for (std::size_t d = 0; d < documents.size(); ++d) {
    // inp = (context + continuation)[-(max_length + 1):][:-1]; the choices of a document often
    // share their context, which is then one of the group's contexts.
    std::vector<Request> requests;
    std::size_t distinct = 0;
    for (const EncodedRequest& r : documents[d]) {
      const std::size_t full = r.context.size() + r.continuation.size();
      const std::size_t cut = full - std::min(full, static_cast<std::size_t>(max_length_) + 1);
      Request request{std::span<const TokenId>(r.context).subspan(cut), r.continuation, 0, {}};
      request.score.input_len = static_cast<std::int64_t>(full - cut - 1);
      request.score.truncated = static_cast<std::int64_t>(cut);
      const auto same = std::find_if(requests.begin(), requests.end(),
                                     [&](const Request& o) { return std::ranges::equal(o.head, request.head); });
      request.context = same != requests.end() ? same->context : distinct++;
      requests.push_back(request);
    }
    if (!members.empty() && contexts + distinct > static_cast<std::size_t>(batch_size_)) score_members();
    for (Request& r : requests) {
      r.context += contexts;
      group.push_back(r);
    }
    members.push_back(d);
    contexts += distinct;
  }
  if (!members.empty()) score_members();
  return scores;
}

void Scorer::score_group(std::vector<Request>& requests, std::size_t context_count) {
  if (requests.empty()) return;  // documents without choices
  const auto batch = static_cast<std::size_t>(batch_size_);
  std::vector<std::span<const TokenId>> contexts(context_count);
  for (const Request& r : requests) contexts[r.context] = r.head;

  // Runs of consecutive contexts that share a header: a context joins the run of the context
  // before it when their common prefix keeps at least half of the run's header (a few-shot
  // header does; the next subject's or an unrelated document's context does not). The context
  // before the group's first is the previous group's last. A context that starts with the
  // header carried from the previous group continues from it, which costs nothing.
  struct Run {
    std::span<const TokenId> header;
    std::size_t contexts = 0;
    bool with_previous = false;  // its header is shared with a context already scored
  };
  std::vector<Run> runs;
  constexpr std::size_t kCarried = static_cast<std::size_t>(-1);
  std::vector<std::size_t> run_of(contexts.size());
  for (std::size_t i = 0; i < contexts.size(); ++i) {
    const std::span<const TokenId> context = contexts[i];
    if (!header_.tokens.empty() && starts_with(context, header_.tokens)) {
      run_of[i] = kCarried;
      continue;
    }
    const bool previous_in_run = i > 0 && run_of[i - 1] != kCarried;
    const std::span<const TokenId> previous = previous_in_run ? runs.back().header
                                              : i > 0         ? contexts[i - 1]
                                                              : std::span<const TokenId>(last_context_);
    const std::size_t shared = common_prefix(previous, context);
    run_of[i] = runs.size();
    if (shared > 0 && 2 * shared >= previous.size()) {
      if (previous_in_run) {
        runs.back().header = previous.first(shared);
        ++runs.back().contexts;
        run_of[i] = runs.size() - 1;
      } else {
        runs.push_back({context.first(shared), 1, true});
      }
    } else {
      runs.push_back({context, 1, false});
    }
  }
  // A header is read when several contexts of the group share it, or when it is shared with
  // the previous group and carried to the next (the documents of a few-shot task go on sharing
  // it); a context alone in its run is read whole.
  const std::size_t last_run = run_of.back();
  const auto has_header = [&](std::size_t r) {
    return r != kCarried && (runs[r].contexts >= 2 || (runs[r].with_previous && r == last_run));
  };

  std::vector<Checkpoint> headers(runs.size());
  std::vector<std::size_t> to_read;  // headers to read, then contexts to read
  for (std::size_t r = 0; r < runs.size(); ++r) {
    if (!has_header(r)) continue;
    headers[r].tokens.assign(runs[r].header.begin(), runs[r].header.end());
    headers[r].state = model_.new_state();
    to_read.push_back(r);
  }
  // Where each context starts (the carried header, its run's header, or nothing), and whether
  // it is that header: then it takes the header's state and last logits.
  std::vector<const Checkpoint*> base(contexts.size(), nullptr);
  std::vector<bool> is_header(contexts.size(), false);
  for (std::size_t c = 0; c < contexts.size(); ++c) {
    base[c] = run_of[c] == kCarried ? &header_ : has_header(run_of[c]) ? &headers[run_of[c]] : nullptr;
    is_header[c] = base[c] != nullptr && base[c]->tokens.size() == contexts[c].size();
  }

  // The first continuation token of each request is scored from its context's last logits,
  // on every thread, as soon as a step has them.
  std::vector<std::vector<std::size_t>> requests_of(contexts.size());
  for (std::size_t k = 0; k < requests.size(); ++k) requests_of[requests[k].context].push_back(k);
  std::vector<std::pair<std::size_t, std::span<const float>>> firsts;
  const auto score_first_tokens = [&] {
    kernels::parallel_for(static_cast<std::int64_t>(firsts.size()), [&](std::int64_t n) {
      const auto& [k, logits] = firsts[static_cast<std::size_t>(n)];
      Request& r = requests[k];
      const TokenLogProb first = token_log_prob(logits, r.continuation[0]);
      r.score.loglikelihood = first.log_prob;
      r.score.is_greedy = first.is_argmax;
    });
    firsts.clear();
  };

  // The headers, read from the start. Their logits are kept only where a context is its header
  // or the header is carried to the next group.
  std::vector<bool> keep_logits(runs.size(), false);
  if (has_header(last_run)) keep_logits[last_run] = true;
  for (std::size_t c = 0; c < contexts.size(); ++c)
    if (is_header[c] && run_of[c] != kCarried) keep_logits[run_of[c]] = true;
  std::vector<Sequence> sequences;
  const auto header_tokens = [&](std::size_t i) { return headers[to_read[i]].tokens.size(); };
  in_steps(to_read.size(), batch, header_tokens, [&](std::size_t begin, std::size_t end) {
    sequences.clear();
    for (std::size_t i = begin; i < end; ++i) {
      Checkpoint& h = headers[to_read[i]];
      sequences.push_back({h.tokens, &h.state, LogitsWanted::Last});
    }
    step(sequences);
    for (std::size_t i = begin; i < end; ++i) {
      if (!keep_logits[to_read[i]]) continue;
      const std::span<const float> logits = batch_.logits(i - begin);
      headers[to_read[i]].logits.assign(logits.begin(), logits.end());
    }
  });
  for (std::size_t c = 0; c < contexts.size(); ++c)
    if (is_header[c])
      for (const std::size_t k : requests_of[c]) firsts.emplace_back(k, base[c]->logits);
  score_first_tokens();

  // The other contexts, each after its header (on a copy of its state) or from the start.
  std::vector<State> read(contexts.size());
  to_read.clear();
  for (std::size_t c = 0; c < contexts.size(); ++c) {
    if (is_header[c]) continue;
    read[c] = base[c] ? base[c]->state : model_.new_state();
    to_read.push_back(c);
  }
  const auto rest = [&](std::size_t c) { return contexts[c].subspan(base[c] ? base[c]->tokens.size() : 0); };
  const auto context_tokens = [&](std::size_t i) { return rest(to_read[i]).size(); };
  in_steps(to_read.size(), batch, context_tokens, [&](std::size_t begin, std::size_t end) {
    sequences.clear();
    for (std::size_t i = begin; i < end; ++i) sequences.push_back({rest(to_read[i]), &read[to_read[i]], LogitsWanted::Last});
    step(sequences);
    for (std::size_t i = begin; i < end; ++i)
      for (const std::size_t k : requests_of[to_read[i]]) firsts.emplace_back(k, batch_.logits(i - begin));
    score_first_tokens();
  });
  const auto state_after = [&](std::size_t c) -> const State& { return is_header[c] ? base[c]->state : read[c]; };

  // The continuation but its last token, read after a copy of its context's state, predicts
  // the rest of the continuation. The rows' log-softmax runs on every thread; each request
  // then adds its tokens' terms in order.
  std::vector<std::size_t> forked;
  for (std::size_t k = 0; k < requests.size(); ++k)
    if (requests[k].continuation.size() > 1) forked.push_back(k);
  std::vector<State> forks;
  struct Row {
    std::size_t request, entry, token;  // scores continuation[token] from the entry's logits
  };
  std::vector<Row> rows;
  std::vector<TokenLogProb> row_scores;
  const auto fork_tokens = [&](std::size_t i) { return requests[forked[i]].continuation.size() - 1; };
  in_steps(forked.size(), batch, fork_tokens, [&](std::size_t begin, std::size_t end) {
    forks.clear();
    sequences.clear();
    rows.clear();
    for (std::size_t i = begin; i < end; ++i) forks.push_back(state_after(requests[forked[i]].context));
    for (std::size_t i = begin; i < end; ++i) {
      const Request& r = requests[forked[i]];
      sequences.push_back({r.continuation.first(r.continuation.size() - 1), &forks[i - begin], LogitsWanted::All});
      for (std::size_t j = 1; j < r.continuation.size(); ++j) rows.push_back({forked[i], i - begin, j});
    }
    step(sequences);
    row_scores.resize(rows.size());
    kernels::parallel_for(static_cast<std::int64_t>(rows.size()), [&](std::int64_t n) {
      const Row& row = rows[static_cast<std::size_t>(n)];
      const Request& r = requests[row.request];
      const std::span<const float> logits = batch_.logits(row.entry);
      const std::size_t vocab = logits.size() / (r.continuation.size() - 1);
      row_scores[static_cast<std::size_t>(n)] =
          token_log_prob(logits.subspan((row.token - 1) * vocab, vocab), r.continuation[row.token]);
    });
    for (std::size_t n = 0; n < rows.size(); ++n) {
      Request& r = requests[rows[n].request];
      r.score.loglikelihood += row_scores[n].log_prob;
      r.score.is_greedy = r.score.is_greedy && row_scores[n].is_argmax;
    }
  });

  if (has_header(last_run)) header_ = std::move(headers[last_run]);
  last_context_.assign(contexts.back().begin(), contexts.back().end());
}

}  // namespace supra::eval
