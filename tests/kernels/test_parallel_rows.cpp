// parallel_rows and the row-wise kernels it threads: the ranges cover every row once, and a
// prompt's worth of rows (cut into chunks on the pool) gives every row exactly what the same
// kernel gives that row alone.
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernel_check.h"
#include "kernels/kernels.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"

namespace supra::kernels::test {
namespace {

// Rows enough to be cut into chunks (row_chunks > 1) at this width.
constexpr std::int64_t kWidth = 1000, kRows = kMinParallelRowValues / kWidth + 37;

TEST(ParallelRows, RangesCoverEveryRowOnce) {
  EXPECT_EQ(row_chunks(kRows, 1), 1);  // too few values: the calling thread alone
  EXPECT_EQ(row_chunks(1, kMinParallelRowValues * 4), 1);
  if (omp_get_max_threads() > 1) {
    EXPECT_GT(row_chunks(kRows, kWidth), 1);
  }
  for (const std::int64_t rows : {std::int64_t{0}, std::int64_t{1}, std::int64_t{5}, kRows}) {
    std::vector<std::atomic<int>> hits(static_cast<std::size_t>(rows));
    parallel_rows(rows, kWidth, [&](std::int64_t first, std::int64_t last) {
      EXPECT_LE(first, last);
      for (std::int64_t t = first; t < last; ++t) hits[static_cast<std::size_t>(t)].fetch_add(1);
    });
    for (std::int64_t t = 0; t < rows; ++t) EXPECT_EQ(hits[static_cast<std::size_t>(t)].load(), 1) << "row " << t;
  }
}

// Runs `kernel(out, rows)` on all rows at once, and on each row alone (its input and output
// offset by the row), and requires the same bits.
template <class Kernel>
void expect_rows_as_alone(const char* what, std::int64_t width, const std::vector<float>& input, Kernel kernel) {
  std::vector<float> all(input), alone(input);
  kernel(all.data(), kRows);
  for (std::int64_t t = 0; t < kRows; ++t) kernel(alone.data() + t * width, 1);
  ASSERT_EQ(std::memcmp(all.data(), alone.data(), all.size() * sizeof(float)), 0) << what;
  ASSERT_NE(std::memcmp(all.data(), input.data(), all.size() * sizeof(float)), 0) << what << " changed nothing";
}

TEST(ParallelRows, RowwiseKernelsGiveEachRowWhatItGetsAlone) {
  auto rng = seeded_rng();
  const std::vector<float> x = random_floats(rng, static_cast<std::size_t>(kRows * kWidth), -2.0f, 2.0f);
  const std::vector<float> other = random_floats(rng, x.size(), -2.0f, 2.0f);
  const std::vector<float> w = random_floats(rng, kWidth, 0.5f, 1.5f);
  expect_rows_as_alone("rmsnorm", kWidth, x, [&](float* y, std::int64_t T) { rmsnorm(y, y, w.data(), T, kWidth, 1e-5f); });
  expect_rows_as_alone("group_norm", kWidth, x,
                       [&](float* y, std::int64_t T) { group_norm(y, y, T, 10, kWidth / 10, 1e-5f); });
  expect_rows_as_alone("add_bias", kWidth, x, [&](float* y, std::int64_t T) { add_bias(y, w.data(), T, kWidth); });
  expect_rows_as_alone("relu", kWidth, x, [&](float* y, std::int64_t T) { relu(y, T * kWidth); });
  std::vector<float> inv_freq(25);
  for (std::size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = std::pow(10000.0f, -float(i) / 25.0f);
  // Each row alone at its own position, as the rows of the whole call see theirs.
  std::vector<float> all(x), alone(x);
  rope(all.data(), kRows, 20, 50, 50, 7, inv_freq.data());
  for (std::int64_t t = 0; t < kRows; ++t) rope(alone.data() + t * kWidth, 1, 20, 50, 50, 7 + t, inv_freq.data());
  EXPECT_EQ(std::memcmp(all.data(), alone.data(), all.size() * sizeof(float)), 0) << "rope";
  // Elementwise kernels of two inputs, against a plain loop.
  all = x;
  add(all.data(), other.data(), kRows * kWidth);
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(all[i], x[i] + other[i]) << "add at " << i;
  // silu_mul cut into chunks gives what one pass of its vector kernel over everything gives.
  std::vector<float> silu(x.size()), once(x.size());
  silu_mul(silu.data(), x.data(), other.data(), kRows * kWidth);
  simd::silu_mul(once.data(), x.data(), other.data(), kRows * kWidth);
  EXPECT_EQ(std::memcmp(silu.data(), once.data(), silu.size() * sizeof(float)), 0) << "silu_mul";
}

}  // namespace
}  // namespace supra::kernels::test
