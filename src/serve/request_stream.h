// RequestStream: the httplib::Stream of one connection of `supra serve`, which bounds what a
// client can make the server wait for or hold: the request line and headers must arrive within
// a deadline and a byte budget, the body within a byte budget (the route's cap plus framing)
// and at a minimum average rate after a grace period. A read past a deadline or a budget fails,
// so httplib gives up on the request. httplib's own SocketStream only limits the wait for each
// single read, which a client sending one byte a second never reaches.
#pragma once
#include <chrono>
#include <cstddef>
#include <vector>

#include <httplib.h>

#include "supra/serve.h"

namespace supra::serve {

class RequestStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  RequestStream(int fd, const ConnectionLimits& limits);

  // Waits (idle_timeout) until the next request starts arriving or the connection ends; true
  // when there is something to read (data, or the end that httplib then reads as such).
  bool wait_for_request();
  // Starts a request: its line and headers get the header deadline and budget.
  void begin_headers();
  // The headers are read: the body may have `max_body_bytes` (plus chunked framing).
  void begin_body(std::size_t max_body_bytes);
  // Whether a read of this request failed on a deadline.
  bool timed_out() const { return timed_out_; }
  // Whether a read failed on a deadline or a budget: the rest of the request is unread, so the
  // connection cannot carry another one.
  bool broken() const { return timed_out_ || over_budget_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, std::size_t size) override;
  ssize_t write(const char* ptr, std::size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return fd_; }

 private:
  Clock::time_point read_deadline() const;
  // Polls for `events` until `deadline`; false on timeout.
  bool wait(short events, Clock::time_point deadline) const;
  bool peer_open() const;

  int fd_;
  const ConnectionLimits& limits_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0, end_ = 0;  // unread bytes in buffer_
  Clock::time_point phase_start_;
  bool in_body_ = false;
  std::size_t budget_ = 0, consumed_ = 0;  // bytes this phase may read, and has read
  bool timed_out_ = false;
  bool over_budget_ = false;
};

}  // namespace supra::serve
