// POST /v1/completions and POST /v1/chat/completions: validate, queue one sequence per prompt
// (its n or best_of choices forked by the scheduler after one prefill), then either wait for
// the whole answer or stream it as server-sent events.
#include <algorithm>
#include <chrono>

#include "serve/api_error.h"
#include "serve/context.h"
#include "serve/continuation.h"
#include "serve/request_body.h"
#include "serve/responses.h"

namespace supra::serve {
namespace {

using nlohmann::json;
constexpr std::chrono::milliseconds kPoll{100};  // how often a streaming handler checks its client

std::vector<SequenceParams> sequences_for(ServeContext& ctx, const GenerationRequest& r) {
  std::optional<SavedState> base;
  if (r.state_id) {
    base = ctx.states.get(*r.state_id);
    if (!base) throw ApiError(404, "no state with id '" + *r.state_id + "'", "state_id", "state_not_found");
  }
  std::vector<SequenceParams> out;
  for (std::size_t i = 0; i < r.prompts.size(); ++i) {
    SequenceParams p = r.params;
    p.prompt = r.prompts[i];
    p.stop_ids = ctx.stop_ids;
    if (base) {
      // Text joins the state's own text (continuation.h); chat turns start as the template says.
      if (i < r.texts.size() && r.texts[i])
        p.prompt = continuation_prompt(ctx.tokenizer, base->tokens, *r.texts[i], "prompt", ctx.limits.max_prompt_tokens);
      p.base = base->state;
      p.base_tokens = base->tokens;
      p.base_logits = base->logits;
    }
    out.push_back(std::move(p));
  }
  return out;
}

// Waits for a sequence to finish and gathers its events into its choices (one per index);
// adds its tokens to `usage` (every choice run counts, best_of's unreturned ones too).
std::vector<Choice> collect(Sequence& s, Usage& usage) {
  const SequenceParams& p = s.params();
  std::vector<Choice> choices(static_cast<std::size_t>(p.choices));
  for (int done = 0; done < p.choices;) {
    for (auto& e : s.take(std::chrono::seconds(1))) {
      if (e.index < 0 || e.index >= p.choices) continue;
      Choice& c = choices[static_cast<std::size_t>(e.index)];
      c.with_logprobs = p.logprobs >= 0;
      c.text += e.text;
      c.tokens.insert(c.tokens.end(), e.tokens.begin(), e.tokens.end());
      if (!e.done) continue;
      if (e.finish_reason == "error") throw ApiError(500, e.error, "", "generation_failed", "server_error");
      c.finish_reason = e.finish_reason;
      c.completion_tokens = e.completion_tokens;
      c.logprob_sum = e.logprob_sum;
      usage.completion_tokens += e.completion_tokens;
      ++done;
    }
  }
  usage.prompt_tokens += s.prompt_tokens;
  return choices;
}

// best_of: the `n` choices with the highest mean logprob per generated token (OpenAI's "highest
// log probability per token"), best first; a choice without tokens counts as 0. Otherwise all.
std::vector<Choice> best(std::vector<Choice> choices, const SequenceParams& p, int n) {
  if (!p.score_choices) return choices;
  const auto mean = [](const Choice& c) { return c.completion_tokens > 0 ? c.logprob_sum / c.completion_tokens : 0.0; };
  std::stable_sort(choices.begin(), choices.end(), [&](const Choice& a, const Choice& b) { return mean(a) > mean(b); });
  choices.resize(static_cast<std::size_t>(n));
  return choices;
}

ResponseMeta meta_for(const ServeContext& ctx, const char* prefix) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {new_response_id(prefix), std::chrono::duration_cast<std::chrono::seconds>(now).count(), ctx.model_name};
}

std::string sse(const ojson& j) { return "data: " + dump(j) + "\n\n"; }

struct StreamOptions {
  bool chat = false;
  bool include_usage = false;
};

// Streams `seq` as server-sent events ending with "data: [DONE]": chunks of every choice
// (each with its index; a chat choice's first chunk carries the role), then, with
// include_usage, a chunk with "choices": [] and the usage. A failed write or an unwritable
// socket means the client left: the sequence is cancelled and the scheduler drops it.
void stream(httplib::Response& res, std::shared_ptr<Sequence> seq, ResponseMeta meta, StreamOptions options,
            std::shared_ptr<const TokenTexts> texts) {
  struct Progress {
    bool started = false;
    int done = 0;
    Usage usage;
  };
  auto progress = std::make_shared<Progress>();
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [seq, meta, options, progress, texts](std::size_t, httplib::DataSink& sink) {
        const auto send = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
        const SequenceParams& p = seq->params();
        if (!sink.is_writable()) {
          seq->cancel();
          return false;
        }
        if (options.chat && !progress->started) {
          for (int i = 0; i < p.choices; ++i)
            if (!send(sse(chat_chunk(meta, i, "", true, nullptr, "", options.include_usage)))) return seq->cancel(), false;
        }
        progress->started = true;
        for (const auto& e : seq->take(kPoll)) {
          if (e.done && e.finish_reason == "error") {
            const ApiError err(500, e.error, "", "generation_failed", "server_error");
            send("data: " + err.body() + "\n\n");
            send("data: [DONE]\n\n");
            sink.done();
            return true;
          }
          const bool has_tokens = !e.tokens.empty() && p.logprobs >= 0;
          if (!e.text.empty() || has_tokens || e.done) {
            const std::string reason = e.done ? e.finish_reason : "";
            const ojson logprobs = !has_tokens    ? ojson(nullptr)
                                   : options.chat ? chat_logprobs_json(e.tokens, *texts)
                                                  : logprobs_json(e.tokens, *texts);
            const ojson chunk = options.chat
                                    ? chat_chunk(meta, e.index, e.text, false, logprobs, reason, options.include_usage)
                                    : completion_chunk(meta, e.index, e.text, logprobs, reason, options.include_usage);
            if (!send(sse(chunk))) return seq->cancel(), false;
          }
          if (!e.done) continue;
          progress->usage.completion_tokens += e.completion_tokens;
          if (++progress->done < p.choices) continue;
          progress->usage.prompt_tokens = seq->prompt_tokens;
          if (options.include_usage) send(sse(usage_chunk(meta, options.chat, progress->usage)));
          send("data: [DONE]\n\n");
          sink.done();
          return true;
        }
        return true;
      },
      [seq](bool success) {
        if (!success) seq->cancel();
      });
}

void run(ServeContext& ctx, const std::shared_ptr<const TokenTexts>& texts, const std::string& text,
         httplib::Response& res, bool chat) {
  const json body = parse_body(text);
  const GenerationRequest r = chat ? parse_chat(body, ctx.tokenizer, ctx.limits, ctx.chat_template)
                                   : parse_completion(body, ctx.tokenizer, ctx.limits);
  check_model(ctx, body);
  auto seqs = submit_all(ctx, sequences_for(ctx, r));
  const ResponseMeta meta = meta_for(ctx, chat ? "chatcmpl" : "cmpl");
  if (r.stream) return stream(res, std::move(seqs.front()), meta, {chat, r.include_usage}, texts);
  // Choices in OpenAI's order: those of the first prompt, then of the next.
  std::vector<Choice> choices;
  Usage usage;
  try {
    for (auto& s : seqs) {
      std::vector<Choice> mine = best(collect(*s, usage), s->params(), r.n);
      choices.insert(choices.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
    }
  } catch (...) {
    for (auto& s : seqs) s->cancel();
    throw;
  }
  send_json(res, dump(chat ? chat_body(meta, choices, usage, *texts) : completion_body(meta, choices, usage, *texts)));
}

}  // namespace

void add_completion_routes(httplib::Server& server, ServeContext& ctx) {
  // The tokens' texts (logprobs names), built once; shared with the streams that outlive a handler.
  auto texts = std::make_shared<const TokenTexts>(ctx.tokenizer);
  server.Post("/v1/completions", [&ctx, texts](const httplib::Request& req, httplib::Response& res,
                                               const httplib::ContentReader& reader) {
    answer(res, [&] { run(ctx, texts, read_body(req, reader, ctx.limits.max_body_bytes), res, false); });
  });
  server.Post("/v1/chat/completions", [&ctx, texts](const httplib::Request& req, httplib::Response& res,
                                                    const httplib::ContentReader& reader) {
    answer(res, [&] { run(ctx, texts, read_body(req, reader, ctx.limits.max_body_bytes), res, true); });
  });
}

}  // namespace supra::serve
