// supra::serve::Server: the OpenAI-compatible HTTP server of `supra serve` (docs/SERVE.md): loads a model
// folder, runs the scheduler thread, and answers HTTP on a pool of handler threads.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace supra::serve {

// What one HTTP client may hold of `supra serve` (docs/SERVE.md "Connections"), enforced by the
// connection layer while it reads and writes.
struct ConnectionLimits {
  std::size_t max_connections = 256;                  // open at once; beyond: 503 and close
  std::chrono::milliseconds idle_timeout{5000};       // wait for a (next) request on a connection
  std::chrono::milliseconds header_timeout{10000};    // request line and headers, once started
  std::size_t max_header_bytes = 64u << 10;           // request line and headers together
  std::chrono::milliseconds body_grace{10000};        // a body may start slowly for this long...
  std::size_t min_body_bytes_per_second = 64u << 10;  // ...then must average at least this
  std::chrono::milliseconds write_timeout{5000};      // a client that does not read its answer
};


struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  int port = 8080;                 // 0 = any free port (see Server::bind)
  std::string api_key;             // empty = no authentication
  std::string model_name;          // reported by /v1/models; default: the folder name
  std::vector<std::string> cors_origins;  // --cors-origin: browser origins allowed ("*": any); none = no CORS
  int parallel = 4;                // sequences decoded together
  int queue_capacity = 64;         // sequences waiting before 503
  std::size_t prefix_cache_bytes = 64u << 20;       // prefix state cache (LRU)
  std::string prefix_cache_dir;                     // empty: the prefix cache lives in memory only
  std::size_t state_memory_bytes = 64u << 20;       // stored states held in memory
  std::size_t state_disk_bytes = 1u << 30;          // stored state files, with state_dir
  std::string state_dir;                            // empty: stored states live in memory only
  std::int64_t state_ttl_seconds = 0;               // 0: stored states never expire
  std::size_t max_state_import_bytes = 256u << 20;  // body limit of POST /v1/states/import
  int max_concurrent_imports = 2;                   // imports read at once (beyond: 503)
  std::size_t max_body_bytes = 1u << 20;            // body limit of every other endpoint
  std::size_t max_prompt_tokens = 4096;
  int max_tokens = 4096;
  std::string chat_template = "mistral";  // a built-in template (supra/chat_template.h)
  int threads = 0;                        // compute threads of the scheduler; 0 = OpenMP's default
  ConnectionLimits connections;           // what one client may hold (connections, timeouts)
};

class Server {
 public:
  // Loads the model and tokenizer and starts the scheduler. Throws supra::Error (also for an
  // unknown chat template).
  Server(const std::filesystem::path& model_folder, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: a free one, chosen by the kernel) and returns the port.
  // Throws supra::Error when the address cannot be bound (one in use included).
  int bind();
  // Serves until stop() (from another thread) or a fatal socket error.
  void listen();
  // Ends generation, stops accepting and closes the connections waiting for or sending a
  // request; listen() returns once the answers being written are done.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace supra::serve
