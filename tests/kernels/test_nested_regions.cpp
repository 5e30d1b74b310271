// No kernel opens an OpenMP parallel region inside another: nested teams on a busy machine
// spin against the threads of the loop around them (a 1,200-token softmax decode beside two
// busy loops took over 60 s instead of 3 s). This executable interposes GOMP_parallel, the
// entry of every `#pragma omp parallel` in GNU OpenMP, ours and oneDNN's alike, and counts
// the regions started while another one is already open on the calling thread.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include "kernels/gemm.h"

namespace {
std::atomic<long> g_regions{0}, g_nested{0};
}

extern "C" void GOMP_parallel(void (*fn)(void*), void* data, unsigned threads, unsigned flags) {
  using Entry = void (*)(void (*)(void*), void*, unsigned, unsigned);
  static const auto real = reinterpret_cast<Entry>(dlsym(RTLD_NEXT, "GOMP_parallel"));
  ++g_regions;
  if (omp_get_level() > 0) ++g_nested;
  real(fn, data, threads, flags);
}

namespace supra::kernels {
namespace {

struct Gemm {
  std::int64_t n = 96;
  std::vector<float> a = std::vector<float>(static_cast<std::size_t>(n * n), 0.5f),
                     b = std::vector<float>(a.size(), 0.25f), c = std::vector<float>(a.size());
  void run() { sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); }
};

TEST(NestedRegions, InterposerSeesOurRegions) {  // the counter works: a plain region is counted
  const long before = g_regions;
#pragma omp parallel num_threads(2)
  { (void)omp_get_thread_num(); }
  EXPECT_GT(g_regions - before, 0);
}

TEST(NestedRegions, SgemmInsideAThreadedLoopRunsOnTheCallingThread) {
  std::vector<Gemm> gemms(4);
  g_nested = 0;
#pragma omp parallel for num_threads(2) schedule(static)
  for (std::size_t i = 0; i < gemms.size(); ++i) gemms[i].run();
  EXPECT_EQ(g_nested, 0);
  for (const Gemm& g : gemms) EXPECT_FLOAT_EQ(g.c[0], 0.5f * 0.25f * float(g.n));
}

TEST(NestedRegions, SgemmInsideALoopKeptOnOneThreadOpensNoTeam) {
  // `parallel for if (false)`: the form of the attention loops when their work is small.
  std::vector<Gemm> gemms(2);
  g_nested = 0;
  const bool threaded = false;
#pragma omp parallel for schedule(static) if (threaded)
  for (std::size_t i = 0; i < gemms.size(); ++i) gemms[i].run();
  EXPECT_EQ(g_nested, 0);
  EXPECT_FLOAT_EQ(gemms[1].c[5], 0.5f * 0.25f * float(gemms[1].n));
}

TEST(NestedRegions, TheOuterThreadCountIsKept) {
  const int threads = omp_get_max_threads();
  Gemm g;
#pragma omp parallel num_threads(1)
  g.run();
  EXPECT_EQ(omp_get_max_threads(), threads);
}

}  // namespace
}  // namespace supra::kernels
