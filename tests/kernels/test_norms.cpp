// rmsnorm (spec §2.2) and group_norm (spec §3.9) against double-precision twins, with
// odd widths, aliasing, and inputs where a careless formula loses precision.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/kernels.h"

namespace supra::kernels::test {
namespace {

constexpr float kEps = 1e-5f;
constexpr std::int64_t kWidths[] = {1, 7, 33, 65, 130};

// y = x / sqrt(mean(x²) + eps) · w, row by row.
std::vector<double> rmsnorm_ref(const Floats& x, const Floats& w, std::int64_t T, std::int64_t n) {
  std::vector<double> y(static_cast<std::size_t>(T * n));
  for (std::int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (std::int64_t i = 0; i < n; ++i) ss += double(x[t * n + i]) * x[t * n + i];
    const double inv = 1.0 / std::sqrt(ss / double(n) + kEps);
    for (std::int64_t i = 0; i < n; ++i) y[t * n + i] = x[t * n + i] * inv * w[i];
  }
  return y;
}

// Per (token, head) group of d values: (x - mean) / sqrt(biased variance + eps).
std::vector<double> group_norm_ref(const Floats& x, std::int64_t groups, std::int64_t d) {
  std::vector<double> y(static_cast<std::size_t>(groups * d));
  for (std::int64_t g = 0; g < groups; ++g) {
    double mean = 0, var = 0;
    for (std::int64_t i = 0; i < d; ++i) mean += x[g * d + i];
    mean /= double(d);
    for (std::int64_t i = 0; i < d; ++i) var += (x[g * d + i] - mean) * (x[g * d + i] - mean);
    var /= double(d);
    for (std::int64_t i = 0; i < d; ++i) y[g * d + i] = (x[g * d + i] - mean) / std::sqrt(var + 1e-5);
  }
  return y;
}

TEST(RmsNorm, MatchesReference) {
  auto rng = seeded_rng();
  for (std::int64_t n : kWidths) {
    const std::int64_t T = 3;
    Floats x(random_floats(rng, T * n, -3.0f, 3.0f));
    for (std::int64_t i = 0; i < n; ++i) x[i] = 0.0f;  // an all-zero row: eps keeps it finite (zeros)
    const Floats w(random_floats(rng, n, 0.5f, 1.5f));
    const std::vector<double> ref = rmsnorm_ref(x, w, T, n);
    const std::string what = "rmsnorm n=" + std::to_string(n);

    Floats y(T * n);
    rmsnorm(y.data(), x.data(), w.data(), T, n, kEps);
    EXPECT_TRUE(close_to(y.span(), ref, kRelTol, what, n));

    rmsnorm(x.data(), x.data(), w.data(), T, n, kEps);  // in place
    EXPECT_TRUE(close_to(x.span(), ref, kRelTol, what + " (y aliases x)", n));
  }
}

TEST(GroupNorm, MatchesReference) {
  auto rng = seeded_rng();
  for (std::int64_t H : {1, 4})
    for (std::int64_t d : kWidths) {
      const std::int64_t T = 3, row = H * d;
      Floats x(random_floats(rng, T * row, -2.0f, 2.0f));
      // Last row: a large common offset with a small spread, where E[x²] - E[x]² in float
      // would cancel catastrophically; the biased variance must still come out right.
      for (std::int64_t i = 0; i < row; ++i) x[(T - 1) * row + i] = 1000.0f + 0.01f * x[(T - 1) * row + i];
      const std::vector<double> ref = group_norm_ref(x, T * H, d);
      const std::string what = "group_norm H=" + std::to_string(H) + " d=" + std::to_string(d);

      Floats y(T * row);
      group_norm(y.data(), x.data(), T, H, d, kEps);
      EXPECT_TRUE(close_to(y.span(), ref, kRelTol, what, row));

      group_norm(x.data(), x.data(), T, H, d, kEps);  // in place
      EXPECT_TRUE(close_to(x.span(), ref, kRelTol, what + " (y aliases x)", row));
    }
}

}  // namespace
}  // namespace supra::kernels::test
