#include "serve/page_routes.h"

#include <string_view>

#include "serve/web_files.h"

namespace supra::serve {
namespace {

// Same origin only: no inline script or style, no other host, no framing, no form posting.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

constexpr std::string_view kIndex = "chat.html";

std::string_view content_type(std::string_view name) {
  const auto ends_with = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

// The file `path` names ("/" is the page itself), or nullptr.
const EmbeddedFile* file_for(const std::string& path) {
  if (path.empty() || path[0] != '/') return nullptr;
  const std::string_view name = path == "/" ? kIndex : std::string_view(path).substr(1);
  for (const EmbeddedFile& f : web_files())
    if (f.name == name) return &f;
  return nullptr;
}

// httplib's route patterns are regular expressions; a file's name (letters, digits, '-', '_'
// and '.': src/serve/CMakeLists.txt checks) is matched as it is.
std::string literal_pattern(std::string_view name) {
  std::string pattern;
  for (const char c : name) {
    if (c == '.') pattern += '\\';
    pattern += c;
  }
  return pattern;
}

}  // namespace

bool is_page_path(const std::string& path) { return file_for(path) != nullptr; }

void add_page_routes(httplib::Server& server) {
  for (const EmbeddedFile& f : web_files()) {
    const auto send = [&f](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy", kContentSecurityPolicy);
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("Cache-Control", "no-cache");  // a new binary's page is fetched again
      res.set_content(f.bytes.data(), f.bytes.size(), std::string(content_type(f.name)));
    };
    server.Get("/" + literal_pattern(f.name), send);
    if (f.name == kIndex) server.Get("/", send);
  }
}

}  // namespace supra::serve
