#include "serve/api_error.h"

#include <nlohmann/json.hpp>

namespace supra::serve {

std::string ApiError::body() const {
  nlohmann::json e = {{"message", what()}, {"type", type_}, {"param", nullptr}, {"code", nullptr}};
  if (!param_.empty()) e["param"] = param_;
  if (!code_.empty()) e["code"] = code_;
  // Messages may quote request bytes; replace anything that is not UTF-8 instead of throwing.
  return nlohmann::json{{"error", e}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace supra::serve
