// silu_mul (spec §2.4, vectorized: on every Highway target) and relu against their
// definitions, including saturated gates and the aliasing the MLP relies on.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/kernels.h"
#include "kernels/simd.h"

namespace supra::kernels::test {
namespace {

constexpr std::int64_t kSizes[] = {1, 7, 33, 65, 130};

TEST(SiluMul, MatchesReferenceOnEveryTarget) {
  auto rng = seeded_rng();
  for (std::int64_t target : simd::available_targets())
    for (std::int64_t n : kSizes) {
      simd::force_target(target);
      Floats gate(random_floats(rng, n, -10.0f, 10.0f));
      // Saturated gates: exp(-g) vanishes, or overflows to inf in float.
      gate[0] = 100.0f;
      if (n > 1) gate[n - 1] = -100.0f;
      const Floats up(random_floats(rng, n, -2.0f, 2.0f));
      std::vector<double> ref(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) ref[i] = gate[i] / (1.0 + std::exp(-double(gate[i]))) * up[i];
      const std::string what = "silu_mul n=" + std::to_string(n) + " on " + simd::target_name(target);

      Floats out(n);
      silu_mul(out.data(), gate.data(), up.data(), n);
      EXPECT_TRUE(close_to(out.span(), ref, kRelTol, what));

      Floats up_copy(up.span());
      silu_mul(up_copy.data(), gate.data(), up_copy.data(), n);
      EXPECT_TRUE(close_to(up_copy.span(), ref, kRelTol, what + " (out aliases up)"));

      silu_mul(gate.data(), gate.data(), up.data(), n);
      EXPECT_TRUE(close_to(gate.span(), ref, kRelTol, what + " (out aliases gate)"));
      simd::force_target(0);
    }
}

TEST(Relu, ClampsNegativesToZero) {
  auto rng = seeded_rng();
  for (std::int64_t n : kSizes) {
    Floats x(random_floats(rng, n));
    x[0] = -0.0f;
    std::vector<double> ref(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) ref[i] = x[i] > 0 ? x[i] : 0.0;
    relu(x.data(), n);
    EXPECT_TRUE(close_to(x.span(), ref, 0.0, "relu n=" + std::to_string(n)));
  }
}

}  // namespace
}  // namespace supra::kernels::test
