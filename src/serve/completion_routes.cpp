// POST /v1/completions and POST /v1/chat/completions: validate, queue one sequence per prompt,
// then either wait for the whole answer or stream it as server-sent events.
#include <chrono>

#include "serve/api_error.h"
#include "serve/context.h"
#include "serve/request_body.h"
#include "serve/responses.h"

namespace supra::serve {
namespace {

using nlohmann::json;
constexpr std::chrono::milliseconds kPoll{100};  // how often a streaming handler checks its client

std::vector<SequenceParams> sequences_for(ServeContext& ctx, const GenerationRequest& r) {
  std::optional<StoredState> base;
  if (r.state_id) {
    base = ctx.states.get(*r.state_id);
    if (!base) throw ApiError(404, "no state with id '" + *r.state_id + "'", "state_id", "state_not_found");
  }
  std::vector<SequenceParams> out;
  for (const auto& prompt : r.prompts) {
    SequenceParams p = r.params;
    p.prompt = prompt;
    p.stop_ids = ctx.stop_ids;
    if (base) {
      p.base = base->state;
      p.base_tokens = base->tokens;
    }
    out.push_back(std::move(p));
  }
  return out;
}

// Waits for a sequence to finish and gathers its events into one choice.
Choice collect(Sequence& s) {
  Choice c;
  c.with_logprobs = s.params().logprobs >= 0;
  for (bool done = false; !done;) {
    for (auto& e : s.take(std::chrono::seconds(1))) {
      c.text += e.text;
      c.tokens.insert(c.tokens.end(), e.tokens.begin(), e.tokens.end());
      if (!e.done) continue;
      if (e.finish_reason == "error") throw ApiError(500, e.error, "", "generation_failed", "server_error");
      c.finish_reason = e.finish_reason;
      done = true;
    }
  }
  c.prompt_tokens = s.prompt_tokens;
  c.completion_tokens = s.completion_tokens;
  return c;
}

ResponseMeta meta_for(const ServeContext& ctx, const char* prefix) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {new_response_id(prefix), std::chrono::duration_cast<std::chrono::seconds>(now).count(), ctx.model_name};
}

std::string sse(const json& j) { return "data: " + dump(j) + "\n\n"; }

// Streams `seq` as server-sent events ending with "data: [DONE]". A failed write or an
// unwritable socket means the client left: the sequence is cancelled and the scheduler drops it.
void stream(httplib::Response& res, std::shared_ptr<Sequence> seq, ResponseMeta meta, bool chat,
            const Tokenizer& tokenizer) {
  auto first = std::make_shared<bool>(true);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [seq, meta, chat, first, &tokenizer](std::size_t, httplib::DataSink& sink) {
        const auto send = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
        if (!sink.is_writable()) {
          seq->cancel();
          return false;
        }
        if (chat && *first) {
          *first = false;
          if (!send(sse(chat_chunk(meta, "", true, "")))) return seq->cancel(), false;
        }
        for (const auto& e : seq->take(kPoll)) {
          if (e.done && e.finish_reason == "error") {
            const ApiError err(500, e.error, "", "generation_failed", "server_error");
            send("data: " + err.body() + "\n\n");
            send("data: [DONE]\n\n");
            sink.done();
            return true;
          }
          const bool has_tokens = !e.tokens.empty() && seq->params().logprobs >= 0;
          if (!e.text.empty() || has_tokens || e.done) {
            const std::string reason = e.done ? e.finish_reason : "";
            const json chunk = chat ? chat_chunk(meta, e.text, false, reason)
                                    : completion_chunk(meta, e.text,
                                                       has_tokens ? logprobs_json(e.tokens, tokenizer) : json(nullptr),
                                                       reason);
            if (!send(sse(chunk))) return seq->cancel(), false;
          }
          if (e.done) {
            send("data: [DONE]\n\n");
            sink.done();
            return true;
          }
        }
        return true;
      },
      [seq](bool success) {
        if (!success) seq->cancel();
      });
}

void run(ServeContext& ctx, const std::string& text, httplib::Response& res, bool chat) {
  const json body = parse_body(text);
  const GenerationRequest r = chat ? parse_chat(body, ctx.tokenizer, ctx.limits, ctx.chat_template)
                                   : parse_completion(body, ctx.tokenizer, ctx.limits);
  auto seqs = submit_all(ctx, sequences_for(ctx, r));
  const ResponseMeta meta = meta_for(ctx, chat ? "chatcmpl" : "cmpl");
  if (r.stream) return stream(res, std::move(seqs.front()), meta, chat, ctx.tokenizer);
  std::vector<Choice> choices;
  try {
    for (auto& s : seqs) choices.push_back(collect(*s));
  } catch (...) {
    for (auto& s : seqs) s->cancel();
    throw;
  }
  send_json(res, dump(chat ? chat_body(meta, choices.front()) : completion_body(meta, choices, ctx.tokenizer)));
}

}  // namespace

void add_completion_routes(httplib::Server& server, ServeContext& ctx) {
  server.Post("/v1/completions",
              [&ctx](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                answer(res, [&] { run(ctx, read_body(req, reader, ctx.limits.max_body_bytes), res, false); });
              });
  server.Post("/v1/chat/completions",
              [&ctx](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                answer(res, [&] { run(ctx, read_body(req, reader, ctx.limits.max_body_bytes), res, true); });
              });
}

}  // namespace supra::serve
