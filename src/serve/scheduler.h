// Scheduler: the one thread that runs the model. Sequences wait in a bounded queue, join the
// running set when a slot is free and leave it when they finish or their client disconnects,
// always at token boundaries. Each step advances the whole running set with ONE batched forward
// pass (Model::forward(Batch&)), so the weights are read once per step however many sequences
// run: a sequence still reading its prompt adds its next block of it (chunked prefill, so a long
// prompt never stalls the others for long), a generating one adds the one token it has just
// sampled. Every sequence has its own Sampler seeded by its request, so its output does not
// depend on what else is running.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "serve/metrics.h"
#include "serve/sequence.h"
#include "serve/state_cache.h"
#include "supra/model.h"
#include "supra/tokenizer.h"

namespace supra::serve {

struct SchedulerOptions {
  int parallel = 4;                           // sequences running at once: the batch size
  int queue_capacity = 64;                    // sequences waiting; more are refused
  std::size_t cache_bytes = 64u << 20;        // prefix state cache budget
  std::size_t block = 64;                     // prefill chunk = cache granularity
  int threads = 0;  // OpenMP threads of the model's loops, 0 = the default (set on the scheduler thread:
                    // omp_set_num_threads applies to the thread that calls it)
  PrefixCacheDir* cache_folder = nullptr;     // mirrors the prefix cache on disk (outlives the scheduler)
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
  // One entry of the step's batch: whose, which tokens, and whether they are a prompt block.
  struct Entry {
    Running* running;
    std::span<const TokenId> ids;
    LogitsWanted wanted;
    bool prefill;
  };
  void loop();
  std::unique_ptr<Running> start(std::shared_ptr<Sequence> sequence);
  void step();                                  // one batched pass over the running set
  void add_prompt_block(Running& r);
  bool emit_token(Running& r);                  // samples and sends r's next token; false when r ends
  void run_batch();
  void run_entries_alone();
  void collect(const Entry& e, std::span<const float> logits);  // the step's result for one entry
  void after_prompt_block(Running& r, std::span<const TokenId> block, std::span<const float> logits);
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
  // The step's batch and its entries, kept across steps so that their memory (the model's
  // activations included) is reused: scheduler thread only.
  Batch batch_;
  std::vector<Entry> entries_;
  std::chrono::steady_clock::time_point rate_start_ = std::chrono::steady_clock::now();
  std::size_t rate_tokens_ = 0;  // generated since rate_start_
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace supra::serve
