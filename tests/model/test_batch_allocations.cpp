// Batched decode allocates nothing once its sizes have settled (issue 17): after the first step,
// a caller that keeps one Batch across steps sees no heap allocation in Model::forward(Batch&),
// on any thread, for every attention kind and weight type. The global operator new of this test
// binary (its own executable for that reason) counts every allocation while a window is open.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "convert/quantize.h"
#include "supra/model.h"
#include "test_support.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};

void* allocate(std::size_t n, std::size_t alignment) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  n = std::max<std::size_t>(n, 1);
  void* p = alignment <= alignof(std::max_align_t)
                ? std::malloc(n)
                : std::aligned_alloc(alignment, (n + alignment - 1) / alignment * alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void* allocate_nothrow(std::size_t n, std::size_t alignment) noexcept {
  try {
    return allocate(n, alignment);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

}  // namespace

// Every replaceable form, so that no allocation of the standard library escapes the count.
void* operator new(std::size_t n) { return allocate(n, 0); }
void* operator new[](std::size_t n) { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate_nothrow(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate_nothrow(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_nothrow(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate_nothrow(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

namespace supra::test {
namespace {

namespace fs = std::filesystem;

// Counts the allocations of every thread between its construction and count().
class AllocationWindow {
 public:
  AllocationWindow() {
    g_allocations = 0;
    g_counting = true;
  }
  ~AllocationWindow() { g_counting = false; }
  long count() {
    g_counting = false;
    return g_allocations.load();
  }
};

TEST(AllocationCounter, SeesEveryThread) {
  AllocationWindow window;
  // Direct calls of the replaceable functions: the compiler may not elide them as it may a
  // new-expression whose result is unused.
  ::operator delete(::operator new(64));
  std::thread([] { ::operator delete(::operator new(64)); }).join();
  // One here, one on the other thread, at least one for starting the thread.
  EXPECT_GE(window.count(), 3);
}

constexpr int kSteps = 6;

// `n` sequences forked from one prefilled state decode kSteps tokens together, greedily, through
// one Batch reused across the steps; one sequence leaves halfway (the batch shrinks). Returns
// the allocations of each step after the first.
std::vector<long> allocations_after_first_step(const Model& m, int n) {
  const int V = m.config().vocab_size;
  State prefilled = m.new_state();
  std::vector<TokenId> prompt;
  for (int t = 0; t < 9; ++t) prompt.push_back((t * 37 + 5) % V);
  m.forward(prompt, prefilled, Mode::Parallel, LogitsWanted::None);
  std::vector<State> states(static_cast<std::size_t>(n), prefilled);
  // A KV cache grows with every token; room for the steps' tokens is made here, so what is
  // counted is the step's own memory, not the cache's growth (a SUPRA state has no cache).
  for (State& s : states)
    for (LayerState& l : s.layers) {
      l.keys.reserve(l.keys.size() / prompt.size() * (prompt.size() + kSteps));
      l.values.reserve(l.values.size() / prompt.size() * (prompt.size() + kSteps));
    }
  std::vector<TokenId> next(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) next[static_cast<std::size_t>(i)] = (i * 11 + 3) % V;

  Batch batch;
  std::vector<long> counts;
  for (int step = 0; step < kSteps; ++step) {
    std::optional<AllocationWindow> window;
    if (step > 0) window.emplace();
    const int running = step < kSteps / 2 ? n : n - 1;
    batch.clear();
    for (int i = 0; i < running; ++i)
      batch.add(std::span(&next[static_cast<std::size_t>(i)], 1), states[static_cast<std::size_t>(i)]);
    m.forward(batch);
    for (int i = 0; i < running; ++i) {
      const std::span<const float> logits = batch.logits(static_cast<std::size_t>(i));
      next[static_cast<std::size_t>(i)] =
          static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    if (window) counts.push_back(window->count());
  }
  for (int i = 0; i < n; ++i)  // the steps ran: every logits row was there and every state moved
    EXPECT_EQ(states[static_cast<std::size_t>(i)].position,
              static_cast<std::int64_t>(prompt.size()) + (i < n - 1 ? kSteps : kSteps / 2));
  return counts;
}

// Decode rows always run supra's own dot-product kernels (never oneDNN's GEMM, whose calls
// allocate their own bookkeeping), so no batch size allocates: 3 and 15 rows (one pass of the
// multi-row kernels), 17 and 40 (chunks, and more rows than the float GEMM threshold).
void expect_no_allocation(const Model& m) {
  for (int n : {3, 15, 17, 40}) {
    const std::vector<long> counts = allocations_after_first_step(m, n);
    for (std::size_t k = 0; k < counts.size(); ++k) EXPECT_EQ(counts[k], 0) << n << " sequences, step " << k + 1;
  }
}

class BatchAllocationsGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchAllocationsGolden, NoneAfterTheFirstDecodeStep) {
  expect_no_allocation(Model::load(data_dir() / "golden" / GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Models, BatchAllocationsGolden,
                         ::testing::Values("supra_gqa", "supra_mha_qknorm", "supra_nope_wide", "mistral_softmax"));

// Every stored weight type the decode kernels read, on the tiny synthetic SUPRA shape.
class BatchAllocationsDtype : public ::testing::TestWithParam<DType> {};

TEST_P(BatchAllocationsDtype, NoneAfterTheFirstDecodeStep) {
  TempDir dir;
  write_synthetic_model("tiny", dir.path() / "model", GetParam());
  expect_no_allocation(Model::load(dir.path() / "model"));
}

INSTANTIATE_TEST_SUITE_P(Types, BatchAllocationsDtype,
                         ::testing::Values(DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0),
                         [](const auto& type) { return std::string(dtype_name(type.param)); });

}  // namespace
}  // namespace supra::test
