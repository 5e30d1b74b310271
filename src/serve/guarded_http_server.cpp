#include "serve/guarded_http_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <cerrno>
#include <cstring>

#include "serve/connection_pool.h"
#include "supra/error.h"

namespace supra::serve {
namespace {

// Connections refused at the cap are answered by threads beyond the cap; a refusal takes
// microseconds, so a few keep up with any rate of new connections.
constexpr std::size_t kRefusalThreads = 8;

// The connection the current thread serves, for the route handlers' calls.
struct Current {
  RequestStream* stream = nullptr;
  bool close = false;  // close after this response: part of the request may be unread
};
thread_local Current current;

bool has_body(const httplib::Request& req) {
  return req.has_header("Transfer-Encoding") ||
         (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
}

}  // namespace

GuardedHttpServer::GuardedHttpServer(const ConnectionLimits& limits, Metrics& metrics, std::string refusal_body)
    : limits_(limits), metrics_(metrics),
      refusal_("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(refusal_body.size()) + "\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" + refusal_body) {
  const std::size_t threads = limits_.max_connections + kRefusalThreads;
  new_task_queue = [threads] { return new ConnectionPool(threads); };
  // SO_REUSEADDR only: restarts may bind while old connections linger in TIME_WAIT, but a port
  // some other socket listens on stays taken (httplib's default also sets SO_REUSEPORT).
  set_socket_options([](int sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // httplib calls this for every answer, whoever made it, just before sending it: each request
  // is counted here once, before its client can see the answer (and then read /metrics).
  // An error answered before the request's body was read in full (a 401 or a 413 refused up
  // front, a body over its cap) leaves the rest of it on the connection, where it would be read
  // as the next request; so does a request that could not be parsed (400) or read in time
  // (408). Such a connection is closed after its answer.
  set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    metrics_.count_request(res.status);
    if (res.status < 400 || !(has_body(req) || res.status == 400 || res.status == 408 || res.status == 414)) return;
    current.close = true;
    res.headers.erase("Keep-Alive");
    if (res.get_header_value("Connection") != "close") res.set_header("Connection", "close");
  });
}

int GuardedHttpServer::bind(const std::string& host, int port) {
  errno = 0;
  const int bound = port == 0 ? bind_to_any_port(host) : (bind_to_port(host, port) ? port : -1);
  const int error = errno;
  if (bound <= 0) {
    std::string message = "cannot listen on " + host + ":" + std::to_string(port);
    if (error == EADDRINUSE) message += ": address in use (is another server running on that port?)";
    else if (error != 0) message += std::string(": ") + std::strerror(error);
    throw Error(message);
  }
  // httplib listens with a backlog of 5, too short for a burst of clients connecting at once.
  ::listen(svr_sock_, SOMAXCONN);
  return bound;
}

void GuardedHttpServer::serve() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    serving_ = true;
  }
  listen_after_bind();
  serving_ = false;
}

// httplib's stop() does nothing until listen_after_bind has marked the server running: a stop
// in between would be lost and the listen would then accept for ever. So once serve() is past
// its check, wait for it to be running (or to have returned) before stopping it.
void GuardedHttpServer::shut_down() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  while (serving_ && !is_running()) std::this_thread::yield();
  stop();
  std::lock_guard lock(mutex_);
  // Reading ends at once (a wait for data sees the end); writing still works, so an answer
  // being sent completes.
  for (const int sock : open_) ::shutdown(sock, SHUT_RD);
}

void GuardedHttpServer::begin_body(std::size_t max_body_bytes) {
  if (current.stream) current.stream->begin_body(max_body_bytes);
}

bool GuardedHttpServer::request_timed_out() { return current.stream && current.stream->timed_out(); }

bool GuardedHttpServer::admit(int sock) {
  std::lock_guard lock(mutex_);
  if (stopping_ || open_.size() >= limits_.max_connections) return false;
  open_.insert(sock);
  metrics_.open_connections = static_cast<std::int64_t>(open_.size());
  return true;
}

void GuardedHttpServer::release(int sock) {
  std::lock_guard lock(mutex_);
  open_.erase(sock);
  metrics_.open_connections = static_cast<std::int64_t>(open_.size());
}

void GuardedHttpServer::refuse(int sock) const {
  // One non-blocking send into an empty socket buffer: it never waits for the client.
  ::send(sock, refusal_.data(), refusal_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool GuardedHttpServer::process_and_close_socket(int sock) {
  bool ok = false;
  if (!admit(sock)) {
    ++metrics_.connections_refused_total;
    refuse(sock);
  } else {
    RequestStream stream(sock, limits_);
    current = {&stream, false};
    // As httplib's loop: up to keep_alive_max_count_ requests, while the server runs.
    for (std::size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET && stream.wait_for_request();
         --left) {
      bool client_closes = false;
      stream.begin_headers();
      ok = process_request(stream, left == 1, client_closes, nullptr);
      if (stream.timed_out()) ++metrics_.read_timeouts_total;
      if (!ok || client_closes || current.close || stream.broken()) break;
    }
    current = {};
    release(sock);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace supra::serve
