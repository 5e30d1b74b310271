// The worker threads of the decode matmuls: a persistent pool whose idle workers spin briefly
// before they sleep.
//
// A decoded token is hundreds of short parallel loops (one per weight matrix, ~100 µs each for
// a 1B model in Q4_0). OpenMP with passive waits puts its workers to sleep at the end of each,
// and waking one costs tens of microseconds on a virtual machine: measured, 25-35% of a supra-1b
// Q4_0 decode (docs/PERFORMANCE.md). Spinning forever (OpenMP's active policy) steals the core
// other processes need on a shared machine. These workers spin for a bounded time, yielding the
// core to any other runnable thread while they do, then sleep until the next loop.
#pragma once
#include <cstdint>

namespace supra::kernels {

// A loop body by reference: a callable that lives on the caller's stack for the whole loop.
// Unlike std::function it never allocates (a decode step runs hundreds of loops).
class LoopBody {
 public:
  template <class F>
  LoopBody(const F& f)  // NOLINT(google-explicit-constructor): lambdas convert as they did to std::function
      : object_(&f), call_([](const void* object, std::int64_t i) { (*static_cast<const F*>(object))(i); }) {}
  void operator()(std::int64_t i) const { call_(object_, i); }

 private:
  const void* object_;
  void (*call_)(const void*, std::int64_t);
};

// Runs body(i) for every i in [0, n), spread over the pool's workers and the calling thread
// (items handed out one at a time, in order), and returns when all are done. The pool has as
// many threads as OpenMP would use (omp_get_max_threads(), so OMP_NUM_THREADS and
// omp_set_num_threads apply). Runs on the calling thread alone when n < 2, with one thread, or
// when called from inside a pool item or an OpenMP parallel region. An exception thrown by body
// is rethrown here (the first one; items not yet started are skipped).
void parallel_for(std::int64_t n, LoopBody body);

}  // namespace supra::kernels
