// ServeContext: what the HTTP routes share: the model, its tokenizer, the scheduler, the
// named states, metrics and limits. Built once by Server; routes only read it (the members
// that change are thread-safe themselves).
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>

#include "supra/chat_template.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "serve/prefix_cache_dir.h"
#include "serve/scheduler.h"
#include "supra/serve.h"
#include "supra/state_file.h"
#include "serve/state_store.h"
#include "supra/model.h"
#include "supra/tokenizer.h"

namespace supra::serve {

struct ServeContext {
  ServeContext(const std::filesystem::path& folder, const ServerOptions& opts);

  ServerOptions options;
  Limits limits;
  const ChatTemplate& chat_template;  // before the model: an unknown name fails before loading it
  std::string model_name;
  std::string folder_name;  // the model folder's name: requests may name the model by it too
  Model model;
  Tokenizer tokenizer;
  std::vector<TokenId> stop_ids;  // EOS ids
  StateCodec codec;  // state files of this model (token ids below the tokenizer's vocabulary)
  Metrics metrics;
  StateStore states;
  std::unique_ptr<PrefixCacheDir> prefix_cache_dir;  // --prefix-cache-dir, or null; outlives the scheduler
  std::unique_ptr<Scheduler> scheduler;  // last: its thread uses everything above
};

// Runs `body` and turns an ApiError (or any other exception, as a 500) into the OpenAI error
// response (counted with every other answer by the server's logger).
void answer(httplib::Response& res, const std::function<void()>& body);
// Sends `json_text` as application/json with `status`.
void send_json(httplib::Response& res, const std::string& json_text, int status = 200);

// Submits one sequence per params (all or none: a full queue cancels those already queued)
// and returns them; 503 when the queue is full.
std::vector<std::shared_ptr<Sequence>> submit_all(ServeContext& ctx, std::vector<SequenceParams> params);

// 404 model_not_found when the body's "model" names another model than the one served.
void check_model(const ServeContext& ctx, const nlohmann::json& body);

void add_model_routes(httplib::Server& server, ServeContext& ctx);
void add_token_routes(httplib::Server& server, ServeContext& ctx);
void add_completion_routes(httplib::Server& server, ServeContext& ctx);
void add_state_routes(httplib::Server& server, ServeContext& ctx);

}  // namespace supra::serve
