// What the in-process server tests share: the shipped models, a Server listening on a port of
// 127.0.0.1 the kernel picks, on a thread of its own, and raw TCP connections to it.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "supra/serve.h"
#include "test_support.h"

namespace supra::serve::test {

inline const std::filesystem::path kModel =
    supra::test::data_dir().parent_path().parent_path() / "models" / "stories260K";

// A server of `model` with `options` (its port replaced by 0: any free one) serving on its own
// thread until destroyed. Test suites hold one from SetUpTestSuite to TearDownTestSuite.
class RunningServer {
 public:
  explicit RunningServer(ServerOptions options, const std::filesystem::path& model = kModel)
      : server_(model, any_port(std::move(options))) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.listen(); });
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  int port() const { return port_; }

 private:
  static ServerOptions any_port(ServerOptions o) {
    o.port = 0;
    return o;
  }
  Server server_;
  int port_ = 0;
  std::thread thread_;
};

// A TCP connection to 127.0.0.1:port whose reads give up after 5 s, or -1.
inline int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

// Starts a greedy streaming completion of `prompt` without a token limit on a raw socket and
// returns the socket (once its first token arrived, when `wait_first`: it is then decoding, and
// stays so until the socket is closed, which is the disconnect), or -1.
inline int start_endless_stream(int port, const std::string& prompt, bool wait_first = true) {
  // EOS (id 2 in the shipped and Mistral tokenizers) is banned: a greedy text may end by itself.
  const std::string body = nlohmann::json{{"prompt", prompt},  {"max_tokens", 1 << 24},
                                          {"temperature", 0},  {"stream", true},
                                          {"logit_bias", {{"2", -100}}}}.dump();
  const int fd = connect_to(port);
  const std::string request = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  if (fd < 0 || ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  std::string got;
  char buf[4096];
  while (wait_first && got.find("data: {") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  return fd;
}

}  // namespace supra::serve::test
