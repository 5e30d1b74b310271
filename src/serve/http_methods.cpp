#include "serve/http_methods.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "serve/page_routes.h"

namespace supra::serve {
namespace {

struct Route {
  std::string_view pattern;  // "{id}": a state id segment; "{rest}": anything non-empty to the end
  const char* methods;       // httplib answers HEAD with the GET route, so GET paths take HEAD too
};

constexpr std::array<Route, 13> kRoutes{{
    {"/health", "GET, HEAD"},
    {"/metrics", "GET, HEAD"},
    {"/v1/models", "GET, HEAD"},
    {"/v1/models/{rest}", "GET, HEAD"},
    {"/v1/completions", "POST"},
    {"/v1/chat/completions", "POST"},
    {"/tokenize", "POST"},
    {"/detokenize", "POST"},
    {"/v1/states", "GET, HEAD, POST"},
    {"/v1/states/import", "POST"},  // before {id}, which "import" matches too: the first match wins
    {"/v1/states/{id}", "GET, HEAD, DELETE"},
    {"/v1/states/{id}/fork", "POST"},
    {"/v1/states/{id}/export", "GET, HEAD"},
}};

// A state id as the state routes match it: [A-Za-z0-9_-]+.
std::size_t id_length(std::string_view s) {
  const auto end = std::ranges::find_if(s, [](unsigned char c) { return !std::isalnum(c) && c != '_' && c != '-'; });
  return static_cast<std::size_t>(end - s.begin());
}

bool matches(std::string_view pattern, std::string_view path) {
  for (;;) {
    const std::size_t hole = pattern.find('{');
    if (hole == std::string_view::npos) return pattern == path;
    if (path.substr(0, hole) != pattern.substr(0, hole)) return false;
    path.remove_prefix(hole);
    pattern.remove_prefix(hole);
    if (pattern.starts_with("{rest}")) return !path.empty();
    const std::size_t id = id_length(path);
    if (id == 0) return false;
    path.remove_prefix(id);
    pattern.remove_prefix(std::string_view("{id}").size());
  }
}

}  // namespace

std::string allowed_methods(const std::string& path) {
  if (is_page_path(path)) return "GET, HEAD";  // the chat page's files, "/" included
  for (const Route& r : kRoutes)
    if (matches(r.pattern, path)) return r.methods;
  return {};
}

bool method_allowed(const std::string& allowed, const std::string& method) {
  for (std::size_t at = 0; at < allowed.size();) {
    const std::size_t end = std::min(allowed.find(", ", at), allowed.size());
    if (allowed.compare(at, end - at, method) == 0) return true;
    at = end + 2;
  }
  return false;
}

}  // namespace supra::serve
