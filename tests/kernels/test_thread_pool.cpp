// parallel_for: every item exactly once whatever the thread count, back to back (the pool's
// publish / retire handshake), nested and concurrent calls, exceptions.
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kernels/thread_pool.h"

namespace supra::kernels::test {
namespace {

// Restores OpenMP's thread count when a test ends.
struct Threads {
  explicit Threads(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(saved); }
  int saved;
};

std::vector<int> run_counts(std::int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  parallel_for(n, [&](std::int64_t i) { hits[static_cast<std::size_t>(i)].fetch_add(1); });
  std::vector<int> out;
  for (auto& h : hits) out.push_back(h.load());
  return out;
}

TEST(ThreadPool, EveryItemOnceForEveryThreadCount) {
  for (int threads : {1, 2, 3, 5, 2}) {  // the pool is rebuilt when the count changes
    Threads t(threads);
    for (std::int64_t n : {0, 1, 2, 7, 1000})
      EXPECT_EQ(run_counts(n), std::vector<int>(static_cast<std::size_t>(n), 1)) << threads << " threads, n=" << n;
  }
}

TEST(ThreadPool, ManyShortLoopsBackToBack) {
  Threads t(3);
  std::atomic<std::int64_t> sum{0};
  for (int loop = 0; loop < 20000; ++loop) parallel_for(4, [&](std::int64_t i) { sum.fetch_add(i + 1); });
  EXPECT_EQ(sum.load(), 20000 * 10);
}

TEST(ThreadPool, UsesMoreThanOneThread) {
  Threads t(2);
  std::atomic<int> inside{0}, most{0};
  // Items that wait for each other can only finish if two run at once.
  parallel_for(2, [&](std::int64_t) {
    const int now = inside.fetch_add(1) + 1;
    for (int prev = most.load(); now > prev && !most.compare_exchange_weak(prev, now);) {
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (inside.load() < 2 && std::chrono::steady_clock::now() < give_up) {
    }
  });
  EXPECT_EQ(most.load(), 2);
}

TEST(ThreadPool, NestedAndConcurrentCallsComplete) {
  Threads t(3);
  std::atomic<int> inner{0};
  parallel_for(8, [&](std::int64_t) { parallel_for(5, [&](std::int64_t) { inner.fetch_add(1); }); });
  EXPECT_EQ(inner.load(), 40);
  std::atomic<std::int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&] {
      for (int loop = 0; loop < 500; ++loop) parallel_for(16, [&](std::int64_t i) { total.fetch_add(i); });
    });
  for (std::thread& c : callers) c.join();
  EXPECT_EQ(total.load(), 3 * 500 * 120);
}

TEST(ThreadPool, ExceptionsReachTheCallerAndThePoolGoesOn) {
  Threads t(3);
  EXPECT_THROW(parallel_for(100,
                            [](std::int64_t i) {
                              if (i == 37) throw std::runtime_error("item 37");
                            }),
               std::runtime_error);
  EXPECT_EQ(run_counts(50), std::vector<int>(50, 1));
}

}  // namespace
}  // namespace supra::kernels::test
