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

// How many chunks parallel_rows cuts `rows` rows of `row_size` values into: 1 (the calling
// thread alone) below kMinParallelRowValues values in all, where handing the work over costs
// more than it saves (a decode step's norms), else a few per thread.
std::int64_t row_chunks(std::int64_t rows, std::int64_t row_size);
inline constexpr std::int64_t kMinParallelRowValues = std::int64_t{1} << 18;

// Runs body(first, last) over consecutive ranges covering [0, rows), on the pool when the rows
// are many (row_chunks), for the row-wise and elementwise passes of a prompt: each row's result
// does not depend on how the rows are cut.
template <class RangeBody>
void parallel_rows(std::int64_t rows, std::int64_t row_size, const RangeBody& body) {
  const std::int64_t chunks = row_chunks(rows, row_size);
  if (chunks <= 1) return body(std::int64_t{0}, rows);
  parallel_for(chunks, [&](std::int64_t i) { body(rows * i / chunks, rows * (i + 1) / chunks); });
}

// parallel_rows over the n values of a flat array, cut at multiples of 64 values: a vector
// kernel sees the same vectors, and the same scalar tail, as in one call over all n.
template <class RangeBody>
void parallel_elements(std::int64_t n, const RangeBody& body) {
  constexpr std::int64_t kStep = 64;
  parallel_rows((n + kStep - 1) / kStep, kStep,
                [&](std::int64_t r0, std::int64_t r1) { body(r0 * kStep, r1 * kStep < n ? r1 * kStep : n); });
}

}  // namespace supra::kernels
