// ConnectionLimits: what one HTTP client may hold of `supra serve` (docs/SERVE.md "Connections"),
// enforced by GuardedHttpServer and RequestStream.
#pragma once
#include <chrono>
#include <cstddef>

namespace supra::serve {

struct ConnectionLimits {
  std::size_t max_connections = 256;                  // open at once; beyond: 503 and close
  std::chrono::milliseconds idle_timeout{5000};       // wait for a (next) request on a connection
  std::chrono::milliseconds header_timeout{10000};    // request line and headers, once started
  std::size_t max_header_bytes = 64u << 10;           // request line and headers together
  std::chrono::milliseconds body_grace{10000};        // a body may start slowly for this long...
  std::size_t min_body_bytes_per_second = 64u << 10;  // ...then must average at least this
  std::chrono::milliseconds write_timeout{5000};      // a client that does not read its answer
};

}  // namespace supra::serve
