#include "serve/scheduler.h"

#include <omp.h>

#include <algorithm>

#include "serve/logprobs.h"
#include "serve/stop_strings.h"
#include "supra/error.h"

namespace supra::serve {

// A sequence in the running set, with everything only the scheduler thread touches.
struct Scheduler::Running {
  Running(std::shared_ptr<Sequence> s, const Tokenizer& tokenizer)
      : seq(std::move(s)), sampler(seq->params().sampling), streamer(tokenizer), stop(seq->params().stop) {}

  std::shared_ptr<Sequence> seq;
  State state;
  std::vector<TokenId> history;  // base tokens, prompt, generated
  std::size_t base_end = 0;      // history[0, base_end) came with the base state
  std::size_t prompt_end = 0;    // history[base_end, prompt_end) is the prompt
  std::size_t consumed = 0;      // tokens the state has consumed
  bool cacheable = false;        // from the empty state: its prefixes may be cached
  Sampler sampler;
  TextStreamer streamer;         // decodes history as one text, so spaces join correctly
  StopMatcher stop;
  std::size_t text_bytes = 0;    // bytes of returned text so far (for text_offset)
  std::vector<float> logits;     // of the last consumed token
  std::vector<TokenLogprob> echoed;
  std::string echo_text;         // the prompt's text, when echoed
  int generated = 0;
  bool done = false;
};

Scheduler::Scheduler(const Model& model, const Tokenizer& tokenizer, Metrics& metrics,
                     const SchedulerOptions& options)
    : model_(model), tokenizer_(tokenizer), metrics_(metrics), options_(options),
      cache_(options.cache_bytes, options.block), thread_([this] { loop(); }) {
  entries_.reserve(static_cast<std::size_t>(options.parallel));
}

Scheduler::~Scheduler() {
  shutdown();
  thread_.join();
}

void Scheduler::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

bool Scheduler::submit(std::shared_ptr<Sequence> sequence) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= static_cast<std::size_t>(options_.queue_capacity)) return false;
    queue_.push_back(std::move(sequence));
    metrics_.queue_depth = static_cast<std::int64_t>(queue_.size());
  }
  wake_.notify_all();
  return true;
}

void Scheduler::loop() {
  if (options_.threads > 0) omp_set_num_threads(options_.threads);
  for (;;) {
    std::vector<std::shared_ptr<Sequence>> admitted;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !running_.empty(); });
      if (stopping_) {
        for (auto& s : queue_) s->push(SequenceEvent::finished("error", "server shutting down"));
        queue_.clear();
        break;
      }
      while (!queue_.empty() && running_.size() + admitted.size() < static_cast<std::size_t>(options_.parallel)) {
        admitted.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      metrics_.queue_depth = static_cast<std::int64_t>(queue_.size());
    }
    for (auto& s : admitted) running_.push_back(start(std::move(s)));

    const std::uint64_t before = metrics_.generated_tokens_total.load();
    step();
    std::erase_if(running_, [](const auto& r) { return r->done; });
    metrics_.active_sequences = static_cast<std::int64_t>(running_.size());
    metrics_.cache_bytes = static_cast<std::int64_t>(cache_.bytes());
    metrics_.cache_entries = static_cast<std::int64_t>(cache_.entries());
    update_rate(metrics_.generated_tokens_total.load() - before);
  }
  for (auto& r : running_)
    if (!r->done) r->seq->push(SequenceEvent::finished("error", "server shutting down"));
  running_.clear();
}

void Scheduler::update_rate(std::size_t generated) {
  using namespace std::chrono;
  rate_tokens_ += generated;
  const auto now = steady_clock::now();
  const double elapsed = duration<double>(now - rate_start_).count();
  if (elapsed < 1.0 && !running_.empty()) return;
  metrics_.tokens_per_second = running_.empty() && rate_tokens_ == 0 ? 0.0 : double(rate_tokens_) / elapsed;
  rate_tokens_ = 0;
  rate_start_ = now;
}

std::unique_ptr<Scheduler::Running> Scheduler::start(std::shared_ptr<Sequence> sequence) {
  auto r = std::make_unique<Running>(std::move(sequence), tokenizer_);
  const SequenceParams& p = r->seq->params();
  r->history = p.base_tokens;
  r->history.insert(r->history.end(), p.prompt.begin(), p.prompt.end());
  r->base_end = p.base_tokens.size();
  r->prompt_end = r->history.size();
  r->state = p.base ? *p.base : model_.new_state();
  r->consumed = r->base_end;
  // Prompt logprobs need the logits of every prompt token, so an echo with logprobs cannot
  // skip any of the prefill; it may still fill the cache.
  const bool echo_logprobs = p.echo && p.logprobs >= 0;
  r->cacheable = !p.base;
  if (r->cacheable && !echo_logprobs && r->prompt_end > cache_.block()) {
    if (auto hit = cache_.lookup(r->history)) {
      ++metrics_.cache_hits_total;
      metrics_.cache_hit_tokens_total += hit->length;
      r->state = std::move(hit->state);
      r->consumed = hit->length;
    } else {
      ++metrics_.cache_misses_total;
    }
  }
  metrics_.prompt_tokens_total += p.prompt.size();
  r->seq->prompt_tokens = static_cast<int>(p.prompt.size());
  // The streamer sees the whole history; only text from the prompt on (echo) or from the
  // first generated token on is returned.
  for (std::size_t i = 0; i < r->prompt_end; ++i) {
    const std::string text = r->streamer.push(r->history[i]);
    if (!p.echo || i < r->base_end) continue;
    if (p.logprobs >= 0) r->echoed.push_back({r->history[i], r->text_bytes, std::nullopt, {}});
    r->text_bytes += text.size();
    r->echo_text += text;
  }
  return r;
}

void Scheduler::step() {
  batch_.clear();
  entries_.clear();
  for (auto& r : running_) {
    if (r->seq->cancelled()) {
      r->done = true;
      ++metrics_.cancelled_total;
      continue;
    }
    try {
      if (r->consumed < r->prompt_end)
        add_prompt_block(*r);
      else if (emit_token(*r))
        entries_.push_back({r.get(), std::span(&r->history.back(), 1), LogitsWanted::Last, false});
    } catch (const std::exception& e) {  // an error ends this sequence, not the server
      finish(*r, "error", e.what());
    }
  }
  if (entries_.empty()) return;
  for (const Entry& e : entries_) batch_.add(e.ids, e.running->state, e.wanted);
  run_batch();

  const bool prompts = std::ranges::any_of(entries_, &Entry::prefill);
  const bool decodes = !std::ranges::all_of(entries_, &Entry::prefill);
  ++metrics_.batch_steps_total;
  metrics_.batch_sequences_total += entries_.size();
  if (prompts && decodes) ++metrics_.batch_mixed_steps_total;
}

void Scheduler::add_prompt_block(Running& r) {
  const SequenceParams& p = r.seq->params();
  const std::size_t block = cache_.block();
  // Blocks end on absolute multiples of the block size, so every prefill of the same tokens
  // splits them identically (cached or not), which keeps the states bit-identical.
  const std::size_t end = std::min(r.prompt_end, (r.consumed / block + 1) * block);
  const bool last = end == r.prompt_end;
  const bool echo_logprobs = p.echo && p.logprobs >= 0;
  const LogitsWanted wanted = echo_logprobs ? LogitsWanted::All : last ? LogitsWanted::Last : LogitsWanted::None;
  entries_.push_back({&r, std::span(r.history).subspan(r.consumed, end - r.consumed), wanted, true});
}

void Scheduler::run_batch() {
  try {
    model_.forward(batch_);
  } catch (const std::exception&) {
    // The model checks every entry before it does any work, so a refused batch has advanced
    // no state: each entry runs again alone, and only the sequences at fault end.
    return run_entries_alone();
  }
  for (std::size_t i = 0; i < entries_.size(); ++i) collect(entries_[i], batch_.logits(i));
}

void Scheduler::run_entries_alone() {
  for (const Entry& e : entries_) {
    batch_.clear();
    batch_.add(e.ids, e.running->state, e.wanted);
    try {
      model_.forward(batch_);
    } catch (const std::exception& error) {
      finish(*e.running, "error", error.what());
      continue;
    }
    collect(e, batch_.logits(0));
  }
}

void Scheduler::collect(const Entry& e, std::span<const float> logits) {
  Running& r = *e.running;
  try {
    if (e.prefill) return after_prompt_block(r, e.ids, logits);
    r.logits.assign(logits.begin(), logits.end());  // same size every step: no allocation
    ++r.consumed;
  } catch (const std::exception& error) {
    finish(r, "error", error.what());
  }
}

void Scheduler::after_prompt_block(Running& r, std::span<const TokenId> chunk, std::span<const float> out) {
  const SequenceParams& p = r.seq->params();
  const std::size_t end = r.consumed + chunk.size();
  const bool last = end == r.prompt_end;
  if (p.echo && p.logprobs >= 0) {
    const auto V = static_cast<std::size_t>(model_.config().vocab_size);
    for (std::size_t t = 0; t < chunk.size(); ++t) {
      // Token i of the history is predicted by the logits after token i-1; the first prompt
      // token of a fresh sequence has no prediction (null, as OpenAI reports it).
      const std::size_t i = r.consumed + t;
      if (i > r.base_end && !(t == 0 && r.logits.empty())) {
        const std::span<const float> row = t == 0 ? std::span<const float>(r.logits) : out.subspan((t - 1) * V, V);
        TokenLogprob& e = r.echoed[i - r.base_end];
        const TokenLogprob lp = token_logprob(log_softmax(row), chunk[t], p.logprobs);
        e.logprob = lp.logprob;
        e.top = lp.top;
      }
    }
    r.logits.assign(out.end() - static_cast<std::ptrdiff_t>(V), out.end());
  } else if (last) {
    r.logits.assign(out.begin(), out.end());
  }
  r.consumed = end;
  if (r.cacheable && end % cache_.block() == 0) cache_.insert(std::span(r.history).first(end), r.state);
  if (!last) return;

  if (p.echo) {
    SequenceEvent echo;
    echo.text = std::move(r.echo_text);
    echo.echo = true;
    echo.tokens = std::move(r.echoed);
    r.seq->push(std::move(echo));
  }
  if (p.max_tokens == 0) finish(r, "length");
}

bool Scheduler::emit_token(Running& r) {
  const SequenceParams& p = r.seq->params();
  std::optional<std::vector<float>> lp;
  if (p.logprobs >= 0) lp = log_softmax(r.logits);  // the model's distribution, before processing
  const TokenId next = r.sampler.sample(r.logits, r.history);
  r.history.push_back(next);
  ++r.generated;
  ++metrics_.generated_tokens_total;

  SequenceEvent event;
  if (lp) {
    event.tokens.push_back(token_logprob(*lp, next, p.logprobs));
    event.tokens.back().text_offset = r.text_bytes;
  }
  if (std::ranges::find(p.stop_ids, next) != p.stop_ids.end()) {
    r.seq->push(std::move(event));
    finish(r, "stop");
    return false;
  }
  const std::string text = r.streamer.push(next);
  r.text_bytes += text.size();
  event.text = r.stop.push(text);
  r.seq->push(std::move(event));
  if (r.stop.stopped()) {
    finish(r, "stop");
    return false;
  }
  if (r.generated >= p.max_tokens) {
    finish(r, "length");
    return false;
  }
  return true;  // the token joins this step's batch
}

void Scheduler::finish(Running& r, const std::string& reason, const std::string& error) {
  SequenceEvent last = SequenceEvent::finished(reason, error);
  if (reason != "error" && !r.stop.stopped()) last.text = r.stop.push(r.streamer.flush()) + r.stop.finish();
  r.seq->completion_tokens = r.generated;
  if (r.seq->params().keep_state && reason != "error") {
    r.seq->final_tokens.assign(r.history.begin(), r.history.begin() + static_cast<std::ptrdiff_t>(r.consumed));
    r.seq->final_state = std::move(r.state);
  }
  r.seq->push(std::move(last));
  r.done = true;
}

}  // namespace supra::serve
