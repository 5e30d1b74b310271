// GET /v1/models and GET /v1/models/{id} (OpenAI's model objects), and the check of a request's
// "model": the served model answers to its id (--model-name, default the folder's name) and to
// its folder's name; any other name is OpenAI's 404 model_not_found.
#include "serve/api_error.h"
#include "serve/context.h"
#include "serve/responses.h"

namespace supra::serve {
namespace {

using nlohmann::json;

bool names_model(const ServeContext& ctx, const std::string& name) {
  return name == ctx.model_name || name == ctx.folder_name;
}

json model_object(const ServeContext& ctx) {
  return {{"id", ctx.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "supra"}};
}

ApiError model_not_found(const std::string& name) {
  return ApiError(404, "the model '" + name + "' does not exist", "model", "model_not_found");
}

}  // namespace

void check_model(const ServeContext& ctx, const json& body) {
  const auto it = body.find("model");
  if (it != body.end() && it->is_string() && !names_model(ctx, it->get<std::string>()))
    throw model_not_found(it->get<std::string>());
}

void add_model_routes(httplib::Server& server, ServeContext& ctx) {
  server.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) {
    send_json(res, dump(json{{"object", "list"}, {"data", json::array({model_object(ctx)})}}));
  });
  // Ids may hold slashes ("org/name", as Hugging Face names go).
  server.Get(R"(/v1/models/(.+))", [&ctx](const httplib::Request& req, httplib::Response& res) {
    answer(res, [&] {
      if (!names_model(ctx, req.matches[1])) throw model_not_found(req.matches[1]);
      send_json(res, dump(model_object(ctx)));
    });
  });
}

}  // namespace supra::serve
