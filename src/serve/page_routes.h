// The chat page (`GET /`, docs/SERVE.md "Chat page"): plain HTML, CSS and JavaScript from
// src/serve/web, built into the binary, each sent with a Content-Security-Policy that lets the
// page load and call nothing but this server.
#pragma once
#include <string>

#include <httplib.h>

namespace supra::serve {

// Whether `path` is one of the page's files ("/" included). They are public: the page holds no
// data, and a browser cannot send the API key to load it (the page sends it with its calls).
bool is_page_path(const std::string& path);

void add_page_routes(httplib::Server& server);

}  // namespace supra::serve
