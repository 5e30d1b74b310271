// The states API: create a state by running a prompt (optionally after another state), list,
// fork, delete, and move states between servers as binary files (docs/STATE_FORMAT.md).
#include "serve/api_error.h"
#include "serve/context.h"
#include "serve/conversation_state.h"
#include "serve/continuation.h"
#include "serve/request_body.h"
#include "serve/responses.h"

namespace supra::serve {
namespace {

using nlohmann::json;

json info_json(const ServeContext& ctx, const StateInfo& i) {
  return {{"id", i.id},          {"object", "state"},   {"tokens", i.tokens},
          {"position", i.position}, {"bytes", i.bytes}, {"created", i.created},
          {"expires_at", i.expires_at ? json(*i.expires_at) : json(nullptr)}, {"model", ctx.model_name}};
}

ApiError not_found(const std::string& id) { return ApiError(404, "no state with id '" + id + "'", "state_id", "state_not_found"); }

SavedState stored(ServeContext& ctx, const std::string& id) {
  auto s = ctx.states.get(id);
  if (!s) throw not_found(id);
  return std::move(*s);
}

// Runs the tokens through the scheduler (which owns the model) and stores the final state.
StateInfo create(ServeContext& ctx, const StateRequest& r) {
  SequenceParams p;
  p.prompt = r.tokens;
  p.max_tokens = 0;
  p.keep_state = true;
  if (r.state_id) {
    SavedState base = stored(ctx, *r.state_id);
    if (r.text) p.prompt = continuation_prompt(ctx.tokenizer, base.tokens, *r.text, "prompt", ctx.limits.max_prompt_tokens);
    p.base = std::move(base.state);
    p.base_tokens = std::move(base.tokens);
    p.base_logits = std::move(base.logits);
  }
  auto seq = submit_all(ctx, {std::move(p)}).front();
  for (bool done = false; !done;)
    for (auto& e : seq->take(std::chrono::seconds(1))) {
      if (!e.done) continue;
      if (e.finish_reason == "error") throw ApiError(500, e.error, "", "generation_failed", "server_error");
      done = true;
    }
  return ctx.states.add({std::move(seq->final_state), std::move(seq->final_tokens), std::move(seq->final_logits)});
}

// A place among the state imports running at once, or a 503: each may hold up to
// max_state_import_bytes while it is read, so their number bounds that memory.
class ImportSlot {
 public:
  ImportSlot(std::atomic<std::int64_t>& running, int max) : running_(running) {
    if (++running_ > max) {
      --running_;
      throw ApiError(503, "too many state imports at once; retry later", "", "server_busy", "server_error");
    }
  }
  ~ImportSlot() { --running_; }
  ImportSlot(const ImportSlot&) = delete;
  ImportSlot& operator=(const ImportSlot&) = delete;

 private:
  std::atomic<std::int64_t>& running_;
};

}  // namespace

void add_state_routes(httplib::Server& server, ServeContext& ctx) {
  // Every POST reads its body under its cap (request_body.h), even the fork that needs none.
  using Reader = httplib::ContentReader;
  server.Post("/v1/states", [&ctx](const httplib::Request& req, httplib::Response& res, const Reader& reader) {
    answer(res, [&] {
      const std::string body = read_body(req, reader, ctx.limits.max_body_bytes);
      const json request = parse_body(body);
      const StateRequest r = request.contains("messages") && !request["messages"].is_null()
                                 ? parse_conversation_state(request, ctx.tokenizer, ctx.limits, ctx.chat_template)
                                 : parse_state_request(request, ctx.tokenizer, ctx.limits);
      send_json(res, dump(info_json(ctx, create(ctx, r))));
    });
  });
  server.Get("/v1/states", [&ctx](const httplib::Request&, httplib::Response& res) {
    answer(res, [&] {
      json data = json::array();
      for (const auto& i : ctx.states.list()) data.push_back(info_json(ctx, i));
      send_json(res, dump(json{{"object", "list"}, {"data", data}}));
    });
  });
  server.Post(R"(/v1/states/import)", [&ctx](const httplib::Request& req, httplib::Response& res, const Reader& reader) {
    answer(res, [&] {
      const ImportSlot slot(ctx.metrics.state_imports_running, ctx.options.max_concurrent_imports);
      const std::string body = read_body(req, reader, ctx.options.max_state_import_bytes);
      SavedState s;
      try {
        s = ctx.codec.decode(body);
      } catch (const InvalidStateFile& e) {
        throw ApiError(400, e.what(), "body", "invalid_state");
      }
      send_json(res, dump(info_json(ctx, ctx.states.add(std::move(s)))));
    });
  });
  server.Post(R"(/v1/states/([A-Za-z0-9_-]+)/fork)",
              [&ctx](const httplib::Request& req, httplib::Response& res, const Reader& reader) {
                answer(res, [&] {
                  read_body(req, reader, ctx.limits.max_body_bytes);
                  send_json(res, dump(info_json(ctx, ctx.states.add(stored(ctx, req.matches[1])))));
                });
              });
  server.Delete(R"(/v1/states/([A-Za-z0-9_-]+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] {
      const std::string id = req.matches[1];
      if (!ctx.states.erase(id)) throw not_found(id);
      send_json(res, dump(json{{"id", id}, {"object", "state"}, {"deleted", true}}));
    });
  });
  server.Get(R"(/v1/states/([A-Za-z0-9_-]+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] {
      const std::string id = req.matches[1];
      const auto info = ctx.states.info(id);
      if (!info) throw not_found(id);
      send_json(res, dump(info_json(ctx, *info)));
    });
  });
  server.Get(R"(/v1/states/([A-Za-z0-9_-]+)/export)", [&ctx](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] {
      res.set_content(ctx.codec.encode(stored(ctx, req.matches[1])), "application/octet-stream");
    });
  });
}

}  // namespace supra::serve
