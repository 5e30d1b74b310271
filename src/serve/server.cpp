// The HTTP shell: authentication, body limits, the small endpoints (/health,
// /metrics, /v1/models) and the JSON form of every error, including those httplib produces
// itself (404 unknown endpoint, 400 unreadable request). Connections are GuardedHttpServer's.
#include "supra/serve.h"

#include <cstdlib>

#include "serve/api_error.h"
#include "serve/context.h"
#include "serve/cors.h"
#include "serve/guarded_http_server.h"
#include "serve/http_methods.h"
#include "serve/page_routes.h"
#include "serve/responses.h"
#include "supra/error.h"
#include "supra/generate.h"

namespace supra::serve {
namespace {

// "models/stories260K/" -> "stories260K" (a trailing slash leaves filename() empty).
std::string folder_name_of(const std::filesystem::path& folder) {
  std::filesystem::path p = std::filesystem::absolute(folder).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

}  // namespace

ServeContext::ServeContext(const std::filesystem::path& folder, const ServerOptions& opts)
    : options(opts),
      limits{opts.max_body_bytes, opts.max_prompt_tokens, opts.max_tokens, 16},
      chat_template(find_chat_template(opts.chat_template)),
      model_name(opts.model_name.empty() ? folder_name_of(folder) : opts.model_name),
      folder_name(folder_name_of(folder)),
      model(Model::load(folder)),
      tokenizer(Tokenizer::load_folder(folder)),
      stop_ids(load_generation_defaults(folder).stop_ids),
      codec(model, tokenizer.vocab_size()),
      states(StateStoreOptions{opts.state_memory_bytes, opts.state_disk_bytes,
                               opts.state_dir.empty() ? std::nullopt : std::optional<std::filesystem::path>(opts.state_dir),
                               opts.state_ttl_seconds},
             codec) {
  if (model_name.empty()) model_name = "supra";
  if (stop_ids.empty()) stop_ids = tokenizer.eos_ids();
  if (!opts.prefix_cache_dir.empty())
    prefix_cache_dir = std::make_unique<PrefixCacheDir>(opts.prefix_cache_dir, codec,
                                                        opts.prefix_cache_bytes);
  scheduler = std::make_unique<Scheduler>(model, tokenizer, metrics,
                                          SchedulerOptions{opts.parallel, opts.queue_capacity, opts.prefix_cache_bytes, 64,
                                                           opts.threads, prefix_cache_dir.get()});
}

void send_json(httplib::Response& res, const std::string& json_text, int status) {
  res.status = status;
  res.set_content(json_text, "application/json");
}

void answer(httplib::Response& res, const std::function<void()>& body) {
  try {
    body();
    return;
  } catch (const ApiError& e) {
    send_json(res, e.body(), e.status());
  } catch (const std::exception& e) {
    send_json(res, ApiError(500, e.what(), "", "internal_error", "server_error").body(), 500);
  }
}

std::vector<std::shared_ptr<Sequence>> submit_all(ServeContext& ctx, std::vector<SequenceParams> params) {
  std::vector<std::shared_ptr<Sequence>> seqs;
  for (auto& p : params) {
    auto s = std::make_shared<Sequence>(std::move(p));
    if (!ctx.scheduler->submit(s)) {
      for (auto& queued : seqs) queued->cancel();
      ++ctx.metrics.rejected_total;
      throw ApiError(503, "the server is busy (queue full); retry later", "", "server_busy", "server_error");
    }
    seqs.push_back(std::move(s));
  }
  return seqs;
}

namespace {

bool key_matches(const std::string& given, const std::string& key) {
  // Compares every byte whatever the first difference, so timing does not reveal the key.
  unsigned diff = given.size() == key.size() ? 0u : 1u;
  for (std::size_t i = 0; i < given.size(); ++i) diff |= unsigned(given[i] ^ key[i % key.size()]);
  return diff == 0;
}

std::string default_error_message(int status) {
  switch (status) {
    case 404: return "unknown endpoint";
    case 405: return "method not allowed";
    case 408: return "the request did not arrive in time";
    case 413: return "request body too large";
    default: return "request failed";
  }
}

}  // namespace

struct Server::Impl {
  Impl(const std::filesystem::path& folder, const ServerOptions& options)
      : ctx(folder, options),
        http(options.connections, ctx.metrics,
             ApiError(503, "too many open connections; retry later", "", "server_busy", "server_error").body()) {}
  ServeContext ctx;
  GuardedHttpServer http;
  int port = -1;
};

Server::Server(const std::filesystem::path& model_folder, const ServerOptions& options)
    : impl_(std::make_unique<Impl>(model_folder, options)) {
  ServeContext& ctx = impl_->ctx;
  httplib::Server& http = impl_->http;
  http.set_pre_routing_handler([&ctx, cors = Cors(options.cors_origins)](const httplib::Request& req, httplib::Response& res) {
    if (cors.handle(req, res)) return httplib::Server::HandlerResponse::Handled;  // a preflight
    if (!ctx.options.api_key.empty() && req.path != "/health" && !is_page_path(req.path)) {
      const std::string auth = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      if (auth.rfind(prefix, 0) != 0 || !key_matches(auth.substr(prefix.size()), ctx.options.api_key)) {
        send_json(res, ApiError(401, "missing or invalid API key (Authorization: Bearer KEY)", "", "invalid_api_key").body(),
                  401);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // httplib inflates gzip and brotli bodies, and outside our routes' capped readers nothing
    // bounds what a small compressed body inflates to; no client of this API compresses.
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (!encoding.empty() && encoding != "identity") {
      send_json(res, ApiError(415, "compressed request bodies (Content-Encoding) are not accepted", "",
                              "unsupported_media_type").body(),
                415);
      return httplib::Server::HandlerResponse::Handled;
    }
    // A request no route takes is answered before its body is read (httplib would read a body
    // without a declared length until the connection closes): 404, or 405 for a known path.
    if (const std::string allowed = allowed_methods(req.path); allowed.empty() || !method_allowed(allowed, req.method)) {
      const int status = allowed.empty() ? 404 : 405;
      if (status == 405) res.set_header("Allow", allowed);
      send_json(res, ApiError(status, default_error_message(status), "", "http_" + std::to_string(status)).body(), status);
      return httplib::Server::HandlerResponse::Handled;
    }
    // The import route takes state files, the rest JSON. A declared length over the cap is
    // refused before reading; any other body is cut off while read (request_body.h), and the
    // stream allows no more than the cap (plus framing) whatever route reads it.
    const std::size_t limit =
        req.path == "/v1/states/import" ? ctx.options.max_state_import_bytes : ctx.options.max_body_bytes;
    GuardedHttpServer::begin_body(limit);
    if (req.has_header("Content-Length") && std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > limit) {
      send_json(res, ApiError(413, "request body larger than " + std::to_string(limit) + " bytes", "", "body_too_large").body(),
                413);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // ours, already JSON
    if (GuardedHttpServer::request_timed_out()) res.status = 408;
    send_json(res, ApiError(res.status, default_error_message(res.status), "", "http_" + std::to_string(res.status)).body(),
              res.status);
    return httplib::Server::HandlerResponse::Handled;
  }));

  http.Get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, R"({"status":"ok"})"); });
  http.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.set_content(ctx.metrics.prometheus(), "text/plain; version=0.0.4");
  });
  add_model_routes(http, ctx);
  add_token_routes(http, ctx);
  add_completion_routes(http, ctx);
  add_state_routes(http, ctx);
  add_page_routes(http);
}

Server::~Server() { stop(); }

int Server::bind() {
  const ServerOptions& o = impl_->ctx.options;
  impl_->port = impl_->http.bind(o.host, o.port);
  return impl_->port;
}

void Server::listen() {
  if (impl_->port <= 0) bind();
  impl_->http.serve();
}

// The scheduler goes first: HTTP's stop waits for its handlers, and a handler may be waiting
// for a long generation that only the scheduler can end.
void Server::stop() {
  impl_->ctx.scheduler->shutdown();
  impl_->http.shut_down();
}

}  // namespace supra::serve
