// Metrics: counters and gauges of the server, updated from any thread (atomics), rendered in
// the Prometheus text exposition format for GET /metrics.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "serve/histogram.h"

namespace supra::serve {

struct Metrics {
  // Every answered request is counted once, as its answer is sent (errors ⊆ requests).
  std::atomic<std::uint64_t> requests_total{0};          // every HTTP request answered
  std::atomic<std::uint64_t> request_errors_total{0};    // of those, answered 4xx/5xx
  std::atomic<std::uint64_t> connections_refused_total{0};  // beyond the connection cap (503)
  std::atomic<std::uint64_t> read_timeouts_total{0};     // requests not received in time
  std::atomic<std::uint64_t> rejected_total{0};          // queue full (503)
  std::atomic<std::uint64_t> prompt_tokens_total{0};     // prompt tokens run through the model
  std::atomic<std::uint64_t> generated_tokens_total{0};
  std::atomic<std::uint64_t> cache_hits_total{0};
  std::atomic<std::uint64_t> cache_misses_total{0};
  std::atomic<std::uint64_t> cache_hit_tokens_total{0};  // prefill tokens skipped thanks to the cache
  std::atomic<std::uint64_t> cancelled_total{0};         // sequences dropped after a disconnect
  std::atomic<std::uint64_t> batch_steps_total{0};       // batched forward passes (scheduler steps)
  std::atomic<std::uint64_t> batch_sequences_total{0};   // sequences advanced by them (/ steps = mean batch)
  std::atomic<std::uint64_t> batch_mixed_steps_total{0}; // steps with prompt blocks and decode tokens together
  std::atomic<std::int64_t> open_connections{0};
  std::atomic<std::int64_t> queue_depth{0};
  std::atomic<std::int64_t> active_sequences{0};
  std::atomic<std::int64_t> cache_bytes{0};
  std::atomic<std::int64_t> cache_entries{0};
  std::atomic<std::int64_t> state_imports_running{0};  // POST /v1/states/import bodies being read or checked
  std::atomic<double> tokens_per_second{0};              // generated tokens/s over the last second or so

  // Latencies (seconds) of sequences, as vLLM names them (vllm:x -> supra_x), observed by the
  // scheduler; the buckets reach down to the sub-millisecond steps of small models.
  Histogram time_to_first_token{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5,
                                 5, 7.5, 10, 20, 40, 80, 160, 640, 2560}};
  Histogram time_per_output_token{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
                                   0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80}};
  Histogram request_queue_time{{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15,
                                20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680}};
  Histogram e2e_request_latency{{0.001, 0.005, 0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20,
                                 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680}};

  // Counts one answered request (GuardedHttpServer, for every answer): the one place requests
  // and errors are counted.
  void count_request(int status);

  std::string prometheus() const;
};

}  // namespace supra::serve
