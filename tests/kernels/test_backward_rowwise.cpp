// Backward of the row-wise kernels (RMSNorm, GroupNorm, SwiGLU, ReLU, rotary) and of the
// cross-entropy + z-loss, against central differences of double-precision twins of the
// forward formulas contracted with a random upstream gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "finite_difference.h"
#include "kernel_check.h"
#include "kernels/backward.h"
#include "kernels/kernels.h"

namespace supra::kernels::test {
namespace {

constexpr float kEps = 1e-5f;
// FD in double is exact to ~1e-9; the kernels round in float32.
constexpr double kGradTol = 2e-5;

TEST(RowwiseBackward, RmsNorm) {
  auto rng = seeded_rng();
  for (std::int64_t n : {1, 7, 65}) {
    constexpr std::int64_t N = 3;
    const Floats x(random_floats(rng, N * n)), w(random_floats(rng, n, 0.5f, 1.5f)), dy(random_floats(rng, N * n));
    const std::vector<float> dx0 = random_floats(rng, N * n), dw0 = random_floats(rng, n);
    Floats dx(dx0), dw(dw0);
    rmsnorm_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), N, n, kEps);
    // L(x, w) = Σ dy ⊙ x · rsqrt(mean(x²) + eps) · w
    const auto loss = [&](const std::vector<double>& xv, const std::vector<double>& wv) {
      double L = 0;
      for (std::int64_t t = 0; t < N; ++t) {
        double ss = 0;
        for (std::int64_t i = 0; i < n; ++i) ss += xv[t * n + i] * xv[t * n + i];
        const double r = 1.0 / std::sqrt(ss / double(n) + kEps);
        for (std::int64_t i = 0; i < n; ++i) L += dy[t * n + i] * xv[t * n + i] * r * wv[i];
      }
      return L;
    };
    const auto xd = widen(x.span()), wd = widen(w.span());
    const auto gx = numeric_gradient(xd, [&](const std::vector<double>& v) { return loss(v, wd); });
    const auto gw = numeric_gradient(wd, [&](const std::vector<double>& v) { return loss(xd, v); });
    EXPECT_TRUE(close_to(dx.span(), plus(dx0, gx), kGradTol, "dx n=" + std::to_string(n), n));
    EXPECT_TRUE(close_to(dw.span(), plus(dw0, gw), kGradTol, "dw n=" + std::to_string(n)));
  }
}

TEST(RowwiseBackward, GroupNorm) {
  auto rng = seeded_rng();
  for (std::int64_t d : {2, 7, 33}) {
    constexpr std::int64_t N = 3, H = 3;
    Floats x(random_floats(rng, N * H * d));
    x[0] += 3.0f;  // a group with a large mean
    const Floats dy(random_floats(rng, N * H * d));
    const std::vector<float> dx0 = random_floats(rng, N * H * d);
    Floats dx(dx0);
    group_norm_backward(dx.data(), dy.data(), x.data(), N, H, d, kEps);
    const auto loss = [&](const std::vector<double>& xv) {
      double L = 0;
      for (std::int64_t g = 0; g < N * H; ++g) {
        double mean = 0, var = 0;
        for (std::int64_t i = 0; i < d; ++i) mean += xv[g * d + i];
        mean /= double(d);
        for (std::int64_t i = 0; i < d; ++i) var += (xv[g * d + i] - mean) * (xv[g * d + i] - mean);
        var /= double(d);
        for (std::int64_t i = 0; i < d; ++i) L += dy[g * d + i] * (xv[g * d + i] - mean) / std::sqrt(var + kEps);
      }
      return L;
    };
    EXPECT_TRUE(close_to(dx.span(), plus(dx0, numeric_gradient(widen(x.span()), loss)), kGradTol,
                         "group norm d=" + std::to_string(d), d));
  }
}

TEST(RowwiseBackward, SiluMulAndRelu) {
  auto rng = seeded_rng();
  constexpr std::int64_t n = 37;
  const Floats gate(random_floats(rng, n, -6.0f, 6.0f)), up(random_floats(rng, n)), dout(random_floats(rng, n));
  Floats dgate(n, 9.0f), dup(n, 9.0f);  // overwritten
  silu_mul_backward(dgate.data(), dup.data(), dout.data(), gate.data(), up.data(), n);
  const auto loss = [&](const std::vector<double>& g, const std::vector<double>& u) {
    double L = 0;
    for (std::int64_t i = 0; i < n; ++i) L += dout[i] * g[i] / (1 + std::exp(-g[i])) * u[i];
    return L;
  };
  const auto gd = widen(gate.span()), ud = widen(up.span());
  EXPECT_TRUE(close_to(dgate.span(), numeric_gradient(gd, [&](const auto& v) { return loss(v, ud); }), kGradTol,
                       "dgate"));
  EXPECT_TRUE(close_to(dup.span(), numeric_gradient(ud, [&](const auto& v) { return loss(gd, v); }), kGradTol, "dup"));

  Floats y(gate.span());
  relu(y.data(), n);
  Floats dy(dout.span());
  relu_backward(dy.data(), y.data(), n);
  for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(dy[i], gate[i] > 0 ? dout[i] : 0.0f) << i;
}

TEST(RowwiseBackward, RopeIsTheTransposedRotation) {
  auto rng = seeded_rng();
  // Rotating part of each head (rot_dim < head_dim) and all of it, from a non-zero position.
  for (const auto& [head_dim, rot_dim] : {std::pair<std::int64_t, std::int64_t>{8, 8}, {10, 6}}) {
    constexpr std::int64_t T = 5, heads = 3, first_pos = 40;
    std::vector<float> inv_freq(static_cast<std::size_t>(rot_dim / 2));
    for (std::size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = std::pow(100.0f, -float(2 * i) / float(rot_dim));
    const Floats dy(random_floats(rng, T * heads * head_dim));
    Floats dx(dy.span());
    rope_backward(dx.data(), T, heads, head_dim, rot_dim, first_pos, inv_freq.data());
    // rope is linear: the gradient of Σ dy ⊙ rope(x) is its transpose applied to dy.
    const auto loss = [&](const std::vector<double>& xv) {
      std::vector<float> xf(xv.begin(), xv.end());
      double L = 0;
      const std::int64_t half = rot_dim / 2;
      for (std::int64_t t = 0; t < T; ++t)
        for (std::int64_t h = 0; h < heads; ++h) {
          const double* xh = &xv[(t * heads + h) * head_dim];
          const float* g = dy.data() + (t * heads + h) * head_dim;
          for (std::int64_t i = 0; i < head_dim; ++i) {
            double y = xh[i];
            if (i < rot_dim) {
              const double angle = double(float(first_pos + t) * inv_freq[i % half]);
              y = i < half ? xh[i] * std::cos(angle) - xh[i + half] * std::sin(angle)
                           : xh[i] * std::cos(angle) + xh[i - half] * std::sin(angle);
            }
            L += g[i] * y;
          }
        }
      return L;
    };
    EXPECT_TRUE(close_to(dx.span(), numeric_gradient(std::vector<double>(dy.span().size(), 0.3), loss), kGradTol,
                         "rope head_dim=" + std::to_string(head_dim) + " rot_dim=" + std::to_string(rot_dim),
                         head_dim));
  }
}

TEST(CrossEntropyZLoss, SumsAndGradient) {
  auto rng = seeded_rng();
  constexpr std::int64_t N = 4, V = 37;
  constexpr double z = 1e-2;
  Floats logits(random_floats(rng, N * V, -4.0f, 4.0f));
  logits[V + 5] = 90.0f;  // exp overflows float32 without the max shift
  const std::int32_t targets[N] = {0, 5, 36, 17};
  const auto sums_of = [&](const std::vector<double>& l) {
    double ce = 0, sq = 0;
    for (std::int64_t t = 0; t < N; ++t) {
      double m = l[t * V];
      for (std::int64_t v = 0; v < V; ++v) m = std::max(m, l[t * V + v]);
      double s = 0;
      for (std::int64_t v = 0; v < V; ++v) s += std::exp(l[t * V + v] - m);
      const double lse = m + std::log(s);
      ce += lse - l[t * V + targets[t]];
      sq += lse * lse;
    }
    return std::pair{ce, sq};
  };
  const auto ref = sums_of(widen(logits.span()));
  const CrossEntropySums no_grad = cross_entropy_zloss(nullptr, logits.data(), targets, N, V, z);
  EXPECT_NEAR(no_grad.ce, ref.first, 1e-9 * std::abs(ref.first));
  EXPECT_NEAR(no_grad.lse_sq, ref.second, 1e-9 * ref.second);

  Floats dl(N * V, 5.0f);  // overwritten
  const CrossEntropySums with_grad = cross_entropy_zloss(dl.data(), logits.data(), targets, N, V, z);
  EXPECT_EQ(with_grad.ce, no_grad.ce);
  const auto grad = numeric_gradient(widen(logits.span()), [&](const std::vector<double>& l) {
    const auto [ce, sq] = sums_of(l);
    return (ce + z * sq) / double(N);
  });
  EXPECT_TRUE(close_to(dl.span(), grad, kGradTol, "dlogits", V));

  // In place: dlogits may alias logits.
  cross_entropy_zloss(logits.data(), logits.data(), targets, N, V, z);
  for (std::int64_t i = 0; i < N * V; ++i) EXPECT_EQ(logits[i], dl[i]) << i;
}

}  // namespace
}  // namespace supra::kernels::test
