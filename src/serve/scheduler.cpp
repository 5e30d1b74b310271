#include "serve/scheduler.h"

#include <omp.h>

#include <algorithm>

#include "serve/logprobs.h"
#include "supra/stop_strings.h"
#include "supra/error.h"

namespace supra::serve {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start,
                     std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
  return std::chrono::duration<double>(now - start).count();
}

}  // namespace

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
  std::chrono::steady_clock::time_point last_token;  // when the last token was sent (metrics)
  int index = 0;                    // the choice; choices 1.. are copies of 0 after its prefill
  bool forked = false;              // the choices exist: this one holds one slot of the batch
  bool text_started = false;        // some text of the sequence came before (token names)
  std::size_t returned_bytes = 0;   // bytes of text passed to the client, echo included
  double logprob_sum = 0;           // of the sampled tokens, when score_choices
  struct Pending {
    TokenLogprob token;
    std::size_t text_end;           // text_bytes once the token's text was decoded
  };
  std::vector<Pending> pending;     // logprobs of tokens whose text is still held back

  std::size_t slots() const { return forked ? 1 : static_cast<std::size_t>(seq->params().choices); }

  // Moves into `out` the logprobs of the tokens whose text the client now has, so that the
  // logprobs end where the returned text ends: when a stop string cut the text, those whose
  // text starts before the cut (the token in which the stop string starts is the last one,
  // later ones are dropped); at the `end` of an uncut text, all; otherwise those whose text
  // has been passed on entirely.
  void release(std::vector<TokenLogprob>& out, bool end) {
    const bool cut = stop.stopped();
    std::size_t n = 0;
    while (n < pending.size() && (cut ? pending[n].token.text_offset < returned_bytes
                                      : end || pending[n].text_end <= returned_bytes))
      ++n;
    for (std::size_t i = 0; i < n; ++i) out.push_back(std::move(pending[i].token));
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
    if (cut || end) pending.clear();
  }
};

Scheduler::Scheduler(const Model& model, const Tokenizer& tokenizer, Metrics& metrics,
                     const SchedulerOptions& options)
    : model_(model), tokenizer_(tokenizer), metrics_(metrics), options_(options),
      cache_(options.cache_bytes, options.block, options.cache_folder), thread_([this] { loop(); }) {
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
      // A request of n choices takes n slots of the batch; one with more than --parallel
      // choices runs when it can run alone.
      std::size_t used = 0;
      for (const auto& r : running_) used += r->slots();
      while (!queue_.empty()) {
        const auto need = static_cast<std::size_t>(std::max(1, queue_.front()->params().choices));
        if (used > 0 && used + need > static_cast<std::size_t>(options_.parallel)) break;
        used += need;
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
  metrics_.request_queue_time.observe(seconds_since(r->seq->arrived));
  const SequenceParams& p = r->seq->params();
  r->history = p.base_tokens;
  r->history.insert(r->history.end(), p.prompt.begin(), p.prompt.end());
  r->base_end = p.base_tokens.size();
  r->prompt_end = r->history.size();
  r->state = p.base ? *p.base : model_.new_state();
  r->consumed = r->base_end;
  r->logits = p.base_logits;
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
    const bool starts_text = !r->text_started;
    const std::string text = r->streamer.push(r->history[i]);
    r->text_started = r->text_started || !text.empty();
    if (!p.echo || i < r->base_end) continue;
    if (p.logprobs >= 0) r->echoed.push_back({r->history[i], r->text_bytes, std::nullopt, {}, starts_text});
    r->text_bytes += text.size();
    r->echo_text += text;
  }
  r->returned_bytes = r->text_bytes;
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
      // token of a fresh sequence has no prediction (null, as OpenAI reports it), that of a
      // continuation is scored by its state's last logits when the state kept them.
      const std::size_t i = r.consumed + t;
      if (!(t == 0 && r.logits.empty())) {
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

  // The choices: copies of this prompt's state, logits and text, each with its own seed. They
  // join the running set, and so the next batched step.
  std::vector<Running*> choices{&r};
  for (int i = 1; i < p.choices && !r.forked; ++i) {
    auto c = std::make_unique<Running>(r);
    c->index = i;
    c->forked = true;
    c->cacheable = false;
    SamplingParams sampling = p.sampling;
    sampling.seed = choice_seed(sampling.seed, i);
    c->sampler = Sampler(sampling);
    choices.push_back(c.get());
    running_.push_back(std::move(c));
  }
  r.forked = true;
  for (Running* c : choices) {
    if (p.echo) {
      SequenceEvent echo;
      echo.text = std::move(c->echo_text);
      echo.echo = true;
      echo.index = c->index;
      echo.tokens = std::move(c->echoed);
      c->seq->push(std::move(echo));
    }
    if (p.max_tokens == 0) finish(*c, "length");
  }
}

bool Scheduler::emit_token(Running& r) {
  const SequenceParams& p = r.seq->params();
  std::optional<std::vector<float>> lp;  // the model's distribution, before processing
  if (p.logprobs >= 0 || p.score_choices) lp = log_softmax(r.logits);
  const TokenId next = r.sampler.sample(r.logits, r.history);
  r.history.push_back(next);
  ++r.generated;
  ++metrics_.generated_tokens_total;
  const auto now = std::chrono::steady_clock::now();
  if (r.generated == 1) metrics_.time_to_first_token.observe(seconds_since(r.seq->arrived, now));
  else metrics_.time_per_output_token.observe(seconds_since(r.last_token, now));
  r.last_token = now;

  if (p.score_choices) r.logprob_sum += (*lp)[static_cast<std::size_t>(next)];
  TokenLogprob token;
  if (p.logprobs >= 0) {
    token = token_logprob(*lp, next, p.logprobs);
    token.text_offset = r.text_bytes;
    token.starts_text = !r.text_started;
  }
  const bool eos = std::ranges::find(p.stop_ids, next) != p.stop_ids.end();
  const std::string text = eos ? std::string() : r.streamer.push(next);  // an EOS adds no text
  r.text_started = r.text_started || !text.empty();
  r.text_bytes += text.size();
  if (p.logprobs >= 0) r.pending.push_back({std::move(token), r.text_bytes});
  if (eos) {
    finish(r, "stop");
    return false;
  }
  SequenceEvent event;
  event.index = r.index;
  event.text = r.stop.push(text);
  r.returned_bytes += event.text.size();
  r.release(event.tokens, false);
  if (!event.text.empty() || !event.tokens.empty()) r.seq->push(std::move(event));
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
  last.index = r.index;
  if (reason != "error" && !r.stop.stopped()) {
    last.text = r.stop.push(r.streamer.flush());
    last.text += r.stop.finish();
    r.returned_bytes += last.text.size();
  }
  if (reason != "error") r.release(last.tokens, true);
  last.completion_tokens = r.generated;
  last.logprob_sum = r.logprob_sum;
  if (reason != "error") metrics_.e2e_request_latency.observe(seconds_since(r.seq->arrived));
  if (r.seq->params().keep_state && reason != "error") {
    r.seq->final_tokens.assign(r.history.begin(), r.history.begin() + static_cast<std::ptrdiff_t>(r.consumed));
    r.seq->final_state = std::move(r.state);
    r.seq->final_logits = std::move(r.logits);
  }
  r.seq->push(std::move(last));
  r.done = true;
}

}  // namespace supra::serve
