// supra serve: the OpenAI-compatible HTTP server (docs/SERVE.md) until SIGINT or SIGTERM.
#include <pthread.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "commands.h"
#include "supra/chat_template.h"
#include "supra/serve.h"
#include "supra/error.h"

namespace supra::cli {
namespace {

// scheme://host[:port] as a browser sends it in Origin: a scheme of letters, digits, "+-.", then
// a host (names, IPv4, [IPv6]) and port, and nothing else (no path, space or control byte).
bool is_origin(const std::string& s) {
  const std::size_t sep = s.find("://");
  if (sep == 0 || sep == std::string::npos || s.size() == sep + 3 || !std::isalpha(static_cast<unsigned char>(s[0])))
    return false;
  const auto scheme_char = [](unsigned char c) { return std::isalnum(c) || c == '+' || c == '-' || c == '.'; };
  const auto host_char = [](unsigned char c) { return std::isalnum(c) || (c != 0 && std::strchr(".:[]_-", c) != nullptr); };
  return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(sep), scheme_char) &&
         std::all_of(s.begin() + static_cast<std::ptrdiff_t>(sep + 3), s.end(), host_char);
}

struct ServeFlags {
  std::string model;
  serve::ServerOptions options;
  std::size_t prefix_cache_mb = 64;
  std::size_t state_memory_mb = 64;
  std::size_t state_disk_mb = 1024;
  std::string removed_state_cache_mb;  // the flag that budgeted two caches at once
  int threads = 0;
};

void run(ServeFlags& f) {
  apply_threads(f.threads);
  f.options.threads = f.threads;  // the scheduler thread runs the model; it sets its own count
  if (!f.removed_state_cache_mb.empty())
    throw Error("--state-cache-mb is gone: use --prefix-cache-mb (prefix cache) and --state-memory-mb (stored states)");
  f.options.prefix_cache_bytes = f.prefix_cache_mb << 20;
  if (!f.options.prefix_cache_dir.empty() && !f.options.state_dir.empty() &&
      std::filesystem::weakly_canonical(f.options.prefix_cache_dir) == std::filesystem::weakly_canonical(f.options.state_dir))
    throw Error("--prefix-cache-dir and --state-dir must be different folders");
  f.options.state_memory_bytes = f.state_memory_mb << 20;
  f.options.state_disk_bytes = f.state_disk_mb << 20;
  // Signals are taken by one waiting thread (not a handler), which may then call stop()
  // safely; every other thread, including httplib's pool, inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  serve::Server server(model_folder(f.model), f.options);
  const int port = server.bind();
  const std::string states = f.options.state_dir.empty() ? "in memory" : "in " + f.options.state_dir;
  std::fprintf(stderr, "supra serve: listening on http://%s:%d (%d parallel, queue %d, prefix cache %zu MiB, states %s, chat template %s%s)\n",
               f.options.host.c_str(), port, f.options.parallel, f.options.queue_capacity, f.prefix_cache_mb, states.c_str(),
               f.options.chat_template.c_str(),
               f.options.api_key.empty() ? "" : ", API key required");
  std::thread waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    std::fprintf(stderr, "supra serve: signal %d, shutting down\n", received);
    server.stop();
  });
  server.listen();
  // listen() also returns on a socket error; wake the waiter so it can be joined.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
}

}  // namespace

void add_serve(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "serve the model over an OpenAI-compatible HTTP API");
  add_model_option(*cmd, flags->model);
  auto& o = flags->options;
  cmd->add_option("--host", o.host, "address to bind (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", o.port, "TCP port; 0 = any free port (default 8080)")->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", o.api_key, "require 'Authorization: Bearer KEY' (all endpoints but /health)");
  cmd->add_option("--model-name", o.model_name,
                  "model id reported by /v1/models (default: the folder name); a request's \"model\" may be it or "
                  "the folder name");
  // An origin is echoed in a response header: only "*" or scheme://host[:port], nothing that could split headers.
  cmd->add_option("--cors-origin", o.cors_origins,
                  "let browser pages of ORIGIN (scheme://host[:port], or * for any) call the API; repeatable")
      ->allow_extra_args(false)
      ->check(CLI::Validator(
          [](std::string& origin) -> std::string {
            return origin == "*" || is_origin(origin) ? "" : "'" + origin + "' is not * or scheme://host[:port]";
          },
          "ORIGIN"));
  cmd->add_option("--parallel", o.parallel, "sequences decoded together (default 4)")->check(CLI::Range(1, 256));
  cmd->add_option("--queue", o.queue_capacity, "requests waiting beyond --parallel before 503 (default 64)")
      ->check(CLI::Range(1, 4096));
  // At most 1000: httplib answers 500 to a socket numbered past select()'s FD_SETSIZE (1024).
  cmd->add_option("--max-connections", o.connections.max_connections,
                  "HTTP connections served at once; more get 503 at once (default 256, at most 1000)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--prefix-cache-mb", flags->prefix_cache_mb,
                  "memory for cached prompt-prefix states, least recently used dropped first (default 64)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--state-memory-mb", flags->state_memory_mb,
                  "memory for stored states (/v1/states): their limit, or with --state-dir their cache (default 64)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--prefix-cache-dir", o.prefix_cache_dir,
                  "keep the prefix cache as files in DIR too, so a restart keeps its warm prompts (not --state-dir's folder)");
  CLI::Option* state_dir = cmd->add_option("--state-dir", o.state_dir, "keep stored states as files in DIR, so they survive restarts");
  cmd->add_option("--state-disk-mb", flags->state_disk_mb, "disk for the files of --state-dir (default 1024)")
      ->check(CLI::Range(0, 1 << 24))
      ->needs(state_dir);
  cmd->add_option("--state-ttl", o.state_ttl_seconds, "seconds a stored state lives after its creation (default: forever)")
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--state-cache-mb", flags->removed_state_cache_mb, "removed: see --prefix-cache-mb, --state-memory-mb")
      ->group("");
  cmd->add_option("--max-prompt-tokens", o.max_prompt_tokens, "longest prompt accepted (default 4096)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-tokens", o.max_tokens, "largest max_tokens accepted (default 4096)")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--chat-template", o.chat_template,
                  "template of /v1/chat/completions: " + chat_template_names() + " (default mistral)");
  add_threads_option(*cmd, flags->threads);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
