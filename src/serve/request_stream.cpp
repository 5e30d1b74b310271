#include "serve/request_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace supra::serve {
namespace {

void address_of(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    port = ntohs(a.sin6_port);
  }
  ip = text;
}

}  // namespace

RequestStream::RequestStream(int fd, const ConnectionLimits& limits)
    : fd_(fd), limits_(limits), buffer_(16u << 10), phase_start_(Clock::now()) {}

bool RequestStream::wait_for_request() { return begin_ != end_ || wait(POLLIN, Clock::now() + limits_.idle_timeout); }

void RequestStream::begin_headers() {
  phase_start_ = Clock::now();
  in_body_ = false;
  budget_ = limits_.max_header_bytes;
  consumed_ = 0;
  timed_out_ = over_budget_ = false;
}

void RequestStream::begin_body(std::size_t max_body_bytes) {
  phase_start_ = Clock::now();
  in_body_ = true;
  // Chunked framing adds a size line per chunk: a sixteenth covers chunks of 128 bytes or more.
  budget_ = max_body_bytes + max_body_bytes / 16 + (64u << 10);
  consumed_ = 0;
}

RequestStream::Clock::time_point RequestStream::read_deadline() const {
  if (!in_body_) return phase_start_ + limits_.header_timeout;
  // Every byte received earns 1/rate seconds: a steady client never meets the deadline.
  const auto earned = std::chrono::microseconds(
      static_cast<long long>(consumed_ * 1'000'000.0 / static_cast<double>(std::max<std::size_t>(1, limits_.min_body_bytes_per_second))));
  return phase_start_ + limits_.body_grace + earned;
}

bool RequestStream::wait(short events, Clock::time_point deadline) const {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (n > 0) return true;  // ready, or an error or hang-up that the next call reports
    if (n < 0 && errno != EINTR) return true;
  }
}

bool RequestStream::is_readable() const { return begin_ != end_ || wait(POLLIN, read_deadline()); }

ssize_t RequestStream::read(char* ptr, std::size_t size) {
  if (consumed_ >= budget_) {  // more than this request may send
    over_budget_ = true;
    return -1;
  }
  size = std::min(size, budget_ - consumed_);
  if (begin_ == end_) {
    if (!wait(POLLIN, read_deadline())) {
      timed_out_ = true;
      return -1;
    }
    ssize_t n;
    do n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return n;
    begin_ = 0;
    end_ = static_cast<std::size_t>(n);
  }
  const std::size_t n = std::min(size, end_ - begin_);
  std::memcpy(ptr, buffer_.data() + begin_, n);
  begin_ += n;
  consumed_ += n;
  return static_cast<ssize_t>(n);
}

// Whether the client is still there: a readable socket that reads as its end means it left (a
// streaming handler then stops generating for nobody).
bool RequestStream::peer_open() const {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return true;
  char c;
  return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

bool RequestStream::is_writable() const {
  return wait(POLLOUT, Clock::now() + limits_.write_timeout) && peer_open();
}

ssize_t RequestStream::write(const char* ptr, std::size_t size) {
  if (!is_writable()) return -1;
  ssize_t n;
  do n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

void RequestStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_of(addr, ip, port);
}

void RequestStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) address_of(addr, ip, port);
}

}  // namespace supra::serve
