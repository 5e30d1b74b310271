// The spin-then-sleep pool of thread_pool.h.
//
// One loop runs at a time. The caller publishes a Job and bumps `generation_`; workers that
// see the bump take items from the job's counter. Before the job (on the caller's stack) goes
// away, the caller waits for every item to finish, unpublishes the job, then waits until no
// worker is between "I am active" and "I am done" (a worker announces itself before it reads the
// job pointer, so it either sees the job while the caller still waits for it, or sees none).
#include "kernels/thread_pool.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace supra::kernels {
namespace {

// How long an idle worker watches for the next loop before it sleeps: well over the gap
// between two matmuls of a decoded token (norms, rotary and the attention step take a few µs),
// far under anything noticeable as load on a shared machine.
constexpr auto kSpin = std::chrono::microseconds(300);

thread_local bool t_in_pool = false;  // a pool worker, or a caller inside parallel_for

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Waits until done() holds; yields the core every few µs, in case the thread it waits for was
// preempted onto this one.
template <class Done>
void spin_until(Done done) {
  for (int k = 1; !done(); ++k) {
    cpu_relax();
    if (k % 64 == 0) sched_yield();
  }
}

struct Job {
  const LoopBody* body = nullptr;
  std::int64_t n = 0;
  std::atomic<std::int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;

  void work() {
    for (std::int64_t i; (i = next.fetch_add(1)) < n; done.fetch_add(1)) {
      if (failed.load(std::memory_order_relaxed)) continue;  // claimed but skipped: counted done
      try {
        (*body)(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  }
};

class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this] { loop(); });
  }

  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stop_.store(true);  // before the bump: a worker that sees the bump sees the stop
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }

  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  int threads() const { return threads_; }

  void run(Job& job) {
    job_.store(&job);
    generation_.fetch_add(1);
    if (sleepers_.load() > 0) {
      std::lock_guard lock(mutex_);
      wake_.notify_all();
    }
    job.work();
    spin_until([&] { return job.done.load() == job.n; });  // items still running on workers
    job_.store(nullptr);
    spin_until([&] { return active_.load() == 0; });  // workers that may hold &job
  }

 private:
  void loop() {
    t_in_pool = true;
    // The generation at construction: loops (or the stop) published before this thread first
    // ran are not missed.
    std::uint64_t seen = 0;
    for (;;) {
      seen = wait_for_change(seen);
      if (stop_.load()) return;
      active_.fetch_add(1);
      if (Job* job = job_.load()) job->work();
      active_.fetch_sub(1);
    }
  }

  // Spins (yielding the core every few µs) until the generation moves past `seen` or kSpin has
  // passed, then sleeps until it moves. Returns the generation it moved to.
  std::uint64_t wait_for_change(std::uint64_t seen) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    std::uint64_t now = generation_.load();
    for (int k = 1; now == seen; ++k, now = generation_.load()) {
      cpu_relax();
      if (k % 64 == 0) {
        if (std::chrono::steady_clock::now() > until) break;
        sched_yield();  // another runnable thread on this core goes first
      }
    }
    if (now == seen) {
      std::unique_lock lock(mutex_);
      sleepers_.fetch_add(1);  // before the check below: a caller that bumps after it notifies
      wake_.wait(lock, [&] { return (now = generation_.load()) != seen; });
      sleepers_.fetch_sub(1);
    }
    return now;
  }

  const int threads_;
  std::vector<std::thread> workers_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<Job*> job_{nullptr};
  std::atomic<int> active_{0}, sleepers_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
};

std::mutex g_pool_mutex;  // one loop at a time; held by the thread running it
std::unique_ptr<Pool> g_pool;

}  // namespace

void parallel_for(std::int64_t n, LoopBody body) {
  const int threads = omp_get_max_threads();
  std::unique_lock lock(g_pool_mutex, std::defer_lock);
  // Serially: little work, one thread, nested calls, or another thread's loop is running.
  if (n < 2 || threads < 2 || t_in_pool || omp_in_parallel() || !lock.try_lock()) {
    for (std::int64_t i = 0; i < n; ++i) body(i);
    return;
  }
  if (!g_pool || g_pool->threads() != threads) {
    g_pool.reset();
    g_pool = std::make_unique<Pool>(threads);
  }
  Job job;
  job.body = &body;
  job.n = n;
  t_in_pool = true;
  g_pool->run(job);
  t_in_pool = false;
  if (job.error) std::rethrow_exception(job.error);
}

std::int64_t row_chunks(std::int64_t rows, std::int64_t row_size) {
  if (rows < 2 || rows * row_size < kMinParallelRowValues) return 1;
  return std::min<std::int64_t>(rows, 4 * std::int64_t{omp_get_max_threads()});
}

}  // namespace supra::kernels
