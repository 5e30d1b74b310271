// ConnectionPool: httplib's task queue for `supra serve`. httplib runs each accepted connection
// as one job that holds a thread until the connection closes, so the pool must be able to give
// every admitted connection a thread at once (a fixed pool smaller than that lets slow clients
// starve everyone; one as large as that holds hundreds of idle threads). This one starts threads
// on demand, up to a maximum, and keeps them for reuse.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace supra::serve {

class ConnectionPool final : public httplib::TaskQueue {
 public:
  explicit ConnectionPool(std::size_t max_threads);
  ~ConnectionPool() override;

  // Runs `job` on an idle thread, or a new one while there are fewer than the maximum; beyond
  // that it waits for a thread to become free.
  void enqueue(std::function<void()> job) override;
  // Runs the jobs already queued, then joins every thread.
  void shutdown() override;

 private:
  void work();

  const std::size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace supra::serve
