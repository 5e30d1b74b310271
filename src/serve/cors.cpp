#include "serve/cors.h"

#include <algorithm>
#include <cctype>

#include "serve/http_methods.h"

namespace supra::serve {
namespace {

// A header list a client may name in Access-Control-Request-Headers: tokens, commas, spaces.
// Anything else is not echoed back (it could split the response's headers).
bool plain_header_list(const std::string& s) {
  return s.size() <= 1024 && std::ranges::all_of(s, [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == ',' || c == ' ';
         });
}

}  // namespace

std::string Cors::allow_origin(const std::string& origin) const {
  if (origin.empty()) return {};
  if (std::ranges::find(origins_, "*") != origins_.end()) return "*";
  return std::ranges::find(origins_, origin) != origins_.end() ? origin : std::string();
}

bool Cors::handle(const httplib::Request& req, httplib::Response& res) const {
  if (!enabled()) return false;
  const std::string allowed = allow_origin(req.get_header_value("Origin"));
  if (!allowed.empty()) {
    res.set_header("Access-Control-Allow-Origin", allowed);
    if (allowed != "*") res.set_header("Vary", "Origin");
  }
  const std::string methods = allowed_methods(req.path);
  if (req.method != "OPTIONS" || !req.has_header("Access-Control-Request-Method") || methods.empty()) return false;
  res.status = 204;
  if (allowed.empty()) return true;  // the browser refuses the request: no CORS headers
  res.set_header("Access-Control-Allow-Methods", methods);
  // The openai SDKs send headers of their own (X-Stainless-*): those asked for are allowed too.
  std::string headers = "Authorization, Content-Type";
  const std::string asked = req.get_header_value("Access-Control-Request-Headers");
  if (!asked.empty() && plain_header_list(asked)) headers += ", " + asked;
  res.set_header("Access-Control-Allow-Headers", headers);
  res.set_header("Access-Control-Max-Age", "600");
  return true;
}

}  // namespace supra::serve
