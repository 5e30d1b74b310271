// Sequence: one prompt being completed, shared by the HTTP handler that waits for its output
// and the scheduler thread that produces it. The handler only reads events and may cancel;
// the scheduler only pushes events. Everything crossing threads goes through the mutex.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "supra/sampler.h"
#include "supra/state.h"
#include "supra/tokenizer.h"

namespace supra::serve {

// What to run: validated request values, already tokenized.
struct SequenceParams {
  std::vector<TokenId> base_tokens;  // tokens already consumed by `base` (from a state_id)
  std::optional<State> base;         // start state; none = the empty state
  std::vector<float> base_logits;    // the base's last logits (may be empty): scores an echoed first token
  std::vector<TokenId> prompt;       // tokens to consume after the base (at least one)
  int max_tokens = 16;
  SamplingParams sampling;
  std::vector<std::string> stop;     // stop strings: the text ends before the first match
  std::vector<TokenId> stop_ids;     // EOS ids: generation ends after producing one
  int logprobs = -1;                 // -1: none; else how many alternatives per token
  bool echo = false;                 // report the prompt's tokens (and logprobs) too
  bool keep_state = false;           // hand back the final State (states API)
  // Choices (n, or best_of): after one prefill the prompt's state is forked this many ways;
  // choice i samples with choice_seed(sampling.seed, i). Events carry the choice's index.
  int choices = 1;
  bool score_choices = false;        // sum each choice's sampled-token logprobs (best_of)
};

// Choice 0 keeps the request's seed (n = 1 is unchanged); choice i > 0 draws with
// SplitMix64(seed + i), so each choice is reproducible alone or under load.
inline std::uint64_t choice_seed(std::uint64_t seed, int index) {
  if (index == 0) return seed;
  std::uint64_t z = seed + static_cast<std::uint64_t>(index) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One token of the OpenAI legacy logprobs block. `logprob` is empty for the first token of an
// echoed prompt (nothing predicts it).
struct TokenLogprob {
  TokenId id = 0;
  std::size_t text_offset = 0;  // byte offset of the token's text in the returned text
  std::optional<float> logprob;
  std::vector<std::pair<TokenId, float>> top;  // best first
  bool starts_text = false;     // no text before it in the sequence (token_text.h names it)
};

struct SequenceEvent {
  std::string text;                   // text that became final with this event
  std::vector<TokenLogprob> tokens;   // when logprobs were asked: the tokens behind `text`
  bool echo = false;                  // this event carries the echoed prompt
  int index = 0;                      // the choice (SequenceParams::choices)
  bool done = false;
  std::string finish_reason;          // on done: "stop" | "length" | "error"
  std::string error;                  // on done with "error"
  int completion_tokens = 0;          // on done: tokens this choice generated
  double logprob_sum = 0;             // on done, when score_choices: their summed logprobs

  static SequenceEvent finished(std::string reason, std::string error = {}) {
    SequenceEvent e;
    e.done = true;
    e.finish_reason = std::move(reason);
    e.error = std::move(error);
    return e;
  }
};

class Sequence {
 public:
  explicit Sequence(SequenceParams params) : params_(std::move(params)) {}

  const SequenceParams& params() const { return params_; }
  // When the request made it: the start of its queue time and time to first token (metrics).
  const std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();

  // Scheduler side.
  void push(SequenceEvent event) {
    {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(event));
    }
    ready_.notify_all();
  }
  bool cancelled() const { return cancelled_.load(); }
  // Filled before the final event is pushed; read by the handler after it sees `done`.
  int prompt_tokens = 0;
  std::vector<TokenId> final_tokens;  // base + prompt + generated, when keep_state
  State final_state;                  // when keep_state
  std::vector<float> final_logits;    // when keep_state: the logits after final_tokens

  // Handler side: waits up to `timeout` for events and moves them out (empty on timeout).
  std::vector<SequenceEvent> take(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, timeout, [&] { return !events_.empty(); });
    std::vector<SequenceEvent> out(std::make_move_iterator(events_.begin()), std::make_move_iterator(events_.end()));
    events_.clear();
    return out;
  }
  // The client went away: the scheduler drops the sequence at the next token boundary.
  void cancel() { cancelled_.store(true); }

 private:
  const SequenceParams params_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<SequenceEvent> events_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace supra::serve
