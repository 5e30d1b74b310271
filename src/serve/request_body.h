// Reading a request body under its route's cap, whatever its framing (Content-Length, chunked):
// the reading stops, and the request is refused with 413, as soon as the body grows past the
// cap, so memory stays bounded by the cap however much a client sends. The routes read their
// bodies through httplib's content reader for this (httplib itself checks only Content-Length,
// and caps urlencoded bodies at 8 KiB, which refused JSON sent as curl's default form type).
#pragma once
#include <cstddef>
#include <string>

#include <httplib.h>

namespace supra::serve {

// The body of `req`, at most `cap` bytes: 413 beyond, 400 when it cannot be read (broken
// framing, a client too slow: 408), 415 for multipart forms. A request with neither
// Content-Length nor Transfer-Encoding has no body (RFC 9112 §6.3).
std::string read_body(const httplib::Request& req, const httplib::ContentReader& reader, std::size_t cap);

}  // namespace supra::serve
