// Scheduler: the one thread that runs the model. Sequences wait in a bounded queue, join the
// running set when a slot is free and leave it when they finish or their client disconnects,
// always at token boundaries. Each step advances every running sequence once: a sequence still
// reading its prompt consumes one attention block of it (so a long prompt never stalls the
// others for long), a generating one produces one token. Every sequence has its own Sampler
// seeded by its request, so its output does not depend on what else is running.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "serve/metrics.h"
#include "serve/sequence.h"
#include "serve/state_cache.h"
#include "supra/model.h"
#include "supra/tokenizer.h"

namespace supra::serve {

struct SchedulerOptions {
  int parallel = 4;                           // sequences running at once
  int queue_capacity = 64;                    // sequences waiting; more are refused
  std::size_t cache_bytes = 64u << 20;        // prefix state cache budget
  std::size_t block = 64;                     // prefill chunk = cache granularity
  int threads = 0;  // OpenMP threads of the model's loops, 0 = the default (set on the scheduler thread:
                    // omp_set_num_threads applies to the thread that calls it)
};

class Scheduler {
 public:
  Scheduler(const Model& model, const Tokenizer& tokenizer, Metrics& metrics, const SchedulerOptions& options);
  ~Scheduler();  // finishes every sequence with an error and joins the thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a sequence; false when the queue is full or the scheduler is stopping (503).
  bool submit(std::shared_ptr<Sequence> sequence);
  // Ends every queued and running sequence with a "server shutting down" error, so that
  // handlers waiting on them return; later submissions are refused. Idempotent.
  void shutdown();

 private:
  struct Running;
  void loop();
  std::unique_ptr<Running> start(std::shared_ptr<Sequence> sequence);
  void advance(Running& r);          // one step: a prompt block or one token
  void prefill_block(Running& r);
  void decode_token(Running& r);
  void finish(Running& r, const std::string& reason, const std::string& error = {});
  void update_rate(std::size_t generated);

  const Model& model_;
  const Tokenizer& tokenizer_;
  Metrics& metrics_;
  const SchedulerOptions options_;
  StateCache cache_;  // scheduler thread only

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Sequence>> queue_;
  bool stopping_ = false;

  std::vector<std::unique_ptr<Running>> running_;  // scheduler thread only
  std::chrono::steady_clock::time_point rate_start_ = std::chrono::steady_clock::now();
  std::size_t rate_tokens_ = 0;  // generated since rate_start_
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace supra::serve
