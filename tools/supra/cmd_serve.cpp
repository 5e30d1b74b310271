// supra serve: the OpenAI-compatible HTTP server (docs/SERVE.md) until SIGINT or SIGTERM.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "serve/chat_template.h"
#include "serve/server.h"
#include "supra/error.h"

namespace supra::cli {
namespace {

struct ServeFlags {
  std::string model;
  serve::ServerOptions options;
  std::size_t state_cache_mb = 64;
  int threads = 0;
};

void run(ServeFlags& f) {
  apply_threads(f.threads);
  f.options.threads = f.threads;  // the scheduler thread runs the model; it sets its own count
  f.options.state_cache_bytes = f.state_cache_mb << 20;
  // Signals are taken by one waiting thread (not a handler), which may then call stop()
  // safely; every other thread, including httplib's pool, inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  serve::Server server(model_folder(f.model), f.options);
  const int port = server.bind();
  std::fprintf(stderr, "supra serve: listening on http://%s:%d (%d parallel, queue %d, state cache %zu MiB, chat template %s%s)\n",
               f.options.host.c_str(), port, f.options.parallel, f.options.queue_capacity, f.state_cache_mb,
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
  cmd->add_option("--model-name", o.model_name, "model id reported by /v1/models (default: the folder name)");
  cmd->add_option("--parallel", o.parallel, "sequences decoded together (default 4)")->check(CLI::Range(1, 256));
  cmd->add_option("--queue", o.queue_capacity, "requests waiting beyond --parallel before 503 (default 64)")
      ->check(CLI::Range(1, 4096));
  // At most 1000: httplib answers 500 to a socket numbered past select()'s FD_SETSIZE (1024).
  cmd->add_option("--max-connections", o.connections.max_connections,
                  "HTTP connections served at once; more get 503 at once (default 256, at most 1000)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--state-cache-mb", flags->state_cache_mb,
                  "memory for cached prefix states, and again for named states (default 64)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--max-prompt-tokens", o.max_prompt_tokens, "longest prompt accepted (default 4096)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-tokens", o.max_tokens, "largest max_tokens accepted (default 4096)")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--chat-template", o.chat_template,
                  "template of /v1/chat/completions: " + serve::chat_template_names() + " (default mistral)");
  add_threads_option(*cmd, flags->threads);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
