#include "serve/request_body.h"

#include <cstdint>

#include "serve/api_error.h"
#include "serve/guarded_http_server.h"

namespace supra::serve {

std::string read_body(const httplib::Request& req, const httplib::ContentReader& reader, std::size_t cap) {
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) return {};
  if (req.is_multipart_form_data())
    throw ApiError(415, "multipart bodies are not accepted; send JSON (or a state file to /v1/states/import)", "",
                   "unsupported_media_type");
  std::string body;
  if (req.has_header("Content-Length")) {
    const auto declared = req.get_header_value<std::uint64_t>("Content-Length");
    if (declared <= cap) body.reserve(static_cast<std::size_t>(declared));  // no doubling of a big import
  }
  bool too_large = false;
  const bool complete = reader([&](const char* data, std::size_t size) {
    if (size > cap - body.size()) {
      too_large = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  if (too_large)
    throw ApiError(413, "request body larger than " + std::to_string(cap) + " bytes", "", "body_too_large");
  if (GuardedHttpServer::request_timed_out())
    throw ApiError(408, "the request body did not arrive in time", "", "request_timeout");
  if (!complete) throw ApiError(400, "the request body could not be read (broken framing?)", "", "invalid_body");
  return body;
}

}  // namespace supra::serve
