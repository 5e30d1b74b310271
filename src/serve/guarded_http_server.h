// GuardedHttpServer: httplib::Server with the defences a public server needs against slow,
// broken or hostile clients (docs/SERVE.md "Connections"): a cap on open connections with a fast
// 503 beyond it, deadlines and byte budgets on reading each request (RequestStream), a thread
// for every admitted connection (ConnectionPool), and a shutdown that ends idle and slow
// connections at once. It replaces httplib's per-connection loop (process_and_close_socket, the
// hook httplib's own SSLServer overrides) and keeps httplib's request parsing and routing. It
// counts every answered request in Metrics, and owns httplib's post-routing handler for that.
#pragma once
#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_set>

#include <httplib.h>

#include "serve/metrics.h"
#include "serve/request_stream.h"

namespace supra::serve {

class GuardedHttpServer final : public httplib::Server {
 public:
  // `refusal_body`: the JSON sent with the 503 to a connection beyond the cap.
  GuardedHttpServer(const ConnectionLimits& limits, Metrics& metrics, std::string refusal_body);

  // Binds host:port (port 0: any free one) without SO_REUSEPORT, so a port already in use is an
  // error rather than a second server sharing it. Returns the port; throws supra::Error.
  int bind(const std::string& host, int port);
  // Accepts connections on the bound port until shut_down (at once when it came first).
  void serve();
  // Stops accepting, then ends every connection that is waiting for or still sending a request;
  // answers being written finish (their handlers end once the scheduler stops).
  void shut_down();

  // For handlers, on the thread serving the request:
  // the headers are read; the body may have at most `max_body_bytes`.
  static void begin_body(std::size_t max_body_bytes);
  // Whether reading the current request failed on a deadline.
  static bool request_timed_out();

 private:
  bool process_and_close_socket(int sock) override;
  bool admit(int sock);
  void release(int sock);
  void refuse(int sock) const;

  const ConnectionLimits limits_;
  Metrics& metrics_;
  const std::string refusal_;  // the whole HTTP response
  std::mutex mutex_;
  std::unordered_set<int> open_;  // sockets being served
  bool stopping_ = false;
  std::atomic<bool> serving_{false};  // serve() has passed its check of stopping_
};

}  // namespace supra::serve
