// Backward of the attention cores. Linear attention: the kernel against central differences
// of the naive O(T²) forward (T = 70 crosses one block boundary), and against the direct O(T²)
// gradient sums for longer sequences where several carried states are involved (T = 200) and
// for decays whose γ^64 underflows. Softmax attention: against central differences. Heads sit
// side by side in padded rows, as in the model.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "finite_difference.h"
#include "kernel_check.h"
#include "kernels/backward.h"

namespace supra::kernels::test {
namespace {

constexpr double kGradTol = 2e-5;

// One head's data inside rows of two heads plus padding (strides differ per array).
struct Rows {
  std::int64_t T, dk, dv, q_stride, k_stride, v_stride, o_stride;
  Floats q, k, v, d_o;
  Rows(std::mt19937& rng, std::int64_t T_, std::int64_t dk_, std::int64_t dv_)
      : T(T_),
        dk(dk_),
        dv(dv_),
        q_stride(2 * dk + 1),
        k_stride(2 * dk + 3),
        v_stride(2 * dv + 1),
        o_stride(2 * dv + 2),
        q(random_floats(rng, T * q_stride)),
        k(random_floats(rng, T * k_stride)),
        v(random_floats(rng, T * v_stride)),
        d_o(random_floats(rng, T * o_stride)) {}
  // Offsets of head 1 in each array.
  std::int64_t qo() const { return dk; }
  std::int64_t vo() const { return dv; }
};

// Gathers head 1 of a strided array into [T, width] doubles, and scatters back.
std::vector<double> gather(const Floats& a, std::int64_t T, std::int64_t stride, std::int64_t off, std::int64_t w) {
  std::vector<double> out(static_cast<std::size_t>(T * w));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t e = 0; e < w; ++e) out[t * w + e] = a[t * stride + off + e];
  return out;
}

struct Grads {
  Floats dq, dk, dv;
  std::vector<float> dq0, dk0, dv0;  // initial contents (gradients accumulate)
  Grads(std::mt19937& rng, const Rows& r)
      : dq(r.T * r.q_stride), dk(r.T * r.k_stride), dv(r.T * r.v_stride) {
    dq0 = random_floats(rng, dq.size());
    dk0 = random_floats(rng, dk.size());
    dv0 = random_floats(rng, dv.size());
    for (std::size_t i = 0; i < dq.size(); ++i) dq[i] = dq0[i];
    for (std::size_t i = 0; i < dk.size(); ++i) dk[i] = dk0[i];
    for (std::size_t i = 0; i < dv.size(); ++i) dv[i] = dv0[i];
  }
};

// What the kernel added to head 1 of an accumulated gradient, and a check that every other
// column (head 0, padding) is untouched.
std::vector<float> added(const Floats& g, const std::vector<float>& g0, std::int64_t T, std::int64_t stride,
                         std::int64_t off, std::int64_t w) {
  std::vector<float> out(static_cast<std::size_t>(T * w));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t e = 0; e < stride; ++e) {
      const std::size_t i = static_cast<std::size_t>(t * stride + e);
      if (e >= off && e < off + w)
        out[t * w + e - off] = g[i] - g0[i];
      else
        EXPECT_EQ(g[i], g0[i]) << "wrote outside its head at row " << t << " column " << e;
    }
  return out;
}

// Σ_t ⟨do_t, o_t⟩ with o_t = Σ_{j≤t} γ^{t−j} c ⟨q_t, k_j⟩ v_j   (all [T, width] doubles)
double linear_loss(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                   const std::vector<double>& d_o, std::int64_t T, std::int64_t dk, std::int64_t dv, double log_gamma,
                   double c) {
  double L = 0;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t j = 0; j <= t; ++j) {
      double qk = 0, ov = 0;
      for (std::int64_t e = 0; e < dk; ++e) qk += q[t * dk + e] * k[j * dk + e];
      for (std::int64_t f = 0; f < dv; ++f) ov += d_o[t * dv + f] * v[j * dv + f];
      L += std::exp(log_gamma * double(t - j)) * c * qk * ov;
    }
  return L;
}

struct Case {
  std::int64_t T, dk, dv;
  double log_gamma;
};

void run_linear(const Case& c, bool finite_differences) {
  auto rng = seeded_rng();
  const Rows r(rng, c.T, c.dk, c.dv);
  Grads g(rng, r);
  const float scale = float(1.0 / std::sqrt(double(c.dk)));
  linear_attention_backward(g.dq.data() + r.qo(), g.dk.data() + r.qo(), g.dv.data() + r.vo(), r.d_o.data() + r.vo(),
                            r.o_stride, r.q.data() + r.qo(), r.q_stride, r.k.data() + r.qo(), r.k_stride,
                            r.v.data() + r.vo(), r.v_stride, c.T, c.dk, c.dv, c.log_gamma, scale);
  const auto q = gather(r.q, c.T, r.q_stride, r.qo(), c.dk), k = gather(r.k, c.T, r.k_stride, r.qo(), c.dk),
             v = gather(r.v, c.T, r.v_stride, r.vo(), c.dv), d_o = gather(r.d_o, c.T, r.o_stride, r.vo(), c.dv);
  std::vector<double> gq, gk, gv;
  if (finite_differences) {
    gq = numeric_gradient(q, [&](const auto& x) { return linear_loss(x, k, v, d_o, c.T, c.dk, c.dv, c.log_gamma, scale); });
    gk = numeric_gradient(k, [&](const auto& x) { return linear_loss(q, x, v, d_o, c.T, c.dk, c.dv, c.log_gamma, scale); });
    gv = numeric_gradient(v, [&](const auto& x) { return linear_loss(q, k, x, d_o, c.T, c.dk, c.dv, c.log_gamma, scale); });
  } else {
    gq.assign(q.size(), 0.0);
    gk.assign(k.size(), 0.0);
    gv.assign(v.size(), 0.0);
    for (std::int64_t t = 0; t < c.T; ++t)
      for (std::int64_t j = 0; j <= t; ++j) {
        double qk = 0, ov = 0;
        for (std::int64_t e = 0; e < c.dk; ++e) qk += q[t * c.dk + e] * k[j * c.dk + e];
        for (std::int64_t f = 0; f < c.dv; ++f) ov += d_o[t * c.dv + f] * v[j * c.dv + f];
        const double w = std::exp(c.log_gamma * double(t - j)) * scale;
        for (std::int64_t e = 0; e < c.dk; ++e) {
          gq[t * c.dk + e] += w * ov * k[j * c.dk + e];
          gk[j * c.dk + e] += w * ov * q[t * c.dk + e];
        }
        for (std::int64_t f = 0; f < c.dv; ++f) gv[j * c.dv + f] += w * qk * d_o[t * c.dv + f];
      }
  }
  const std::string what = "T=" + std::to_string(c.T) + " dk=" + std::to_string(c.dk) + " dv=" +
                           std::to_string(c.dv) + " log_gamma=" + std::to_string(c.log_gamma);
  EXPECT_TRUE(close_to(added(g.dq, g.dq0, c.T, r.q_stride, r.qo(), c.dk), gq, kGradTol, "dq " + what, c.dk));
  EXPECT_TRUE(close_to(added(g.dk, g.dk0, c.T, r.k_stride, r.qo(), c.dk), gk, kGradTol, "dk " + what, c.dk));
  EXPECT_TRUE(close_to(added(g.dv, g.dv0, c.T, r.v_stride, r.vo(), c.dv), gv, kGradTol, "dv " + what, c.dv));
}

TEST(LinearAttentionBackward, MatchesFiniteDifferences) {
  for (const Case& c : {Case{1, 3, 2, -0.3}, Case{70, 3, 2, -0.05}, Case{70, 2, 3, 0.0}}) run_linear(c, true);
}

TEST(LinearAttentionBackward, MatchesDirectSumsAcrossBlocks) {
  for (const Case& c : {Case{63, 5, 4, -0.1}, Case{64, 4, 5, -0.01}, Case{65, 4, 4, 0.0}, Case{200, 6, 3, -0.02},
                        Case{200, 3, 6, -2.0}, Case{129, 8, 8, -0.0039}})
    run_linear(c, false);
}

// Σ_t ⟨do_t, Σ_j softmax_j(c q_t·k_j, j ≤ t) v_j⟩
double softmax_loss(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                    const std::vector<double>& d_o, std::int64_t T, std::int64_t d, std::int64_t dv, double c) {
  double L = 0;
  for (std::int64_t t = 0; t < T; ++t) {
    std::vector<double> s(static_cast<std::size_t>(t + 1));
    double m = -1e300, sum = 0;
    for (std::int64_t j = 0; j <= t; ++j) {
      double qk = 0;
      for (std::int64_t e = 0; e < d; ++e) qk += q[t * d + e] * k[j * d + e];
      s[j] = c * qk;
      m = std::max(m, s[j]);
    }
    for (std::int64_t j = 0; j <= t; ++j) sum += s[j] = std::exp(s[j] - m);
    for (std::int64_t j = 0; j <= t; ++j)
      for (std::int64_t f = 0; f < dv; ++f) L += s[j] / sum * v[j * dv + f] * d_o[t * dv + f];
  }
  return L;
}

TEST(SoftmaxAttentionBackward, MatchesFiniteDifferences) {
  for (const Case& c : {Case{1, 4, 3, 0}, Case{21, 4, 3, 0}, Case{33, 8, 5, 0}}) {
    auto rng = seeded_rng();
    Rows r(rng, c.T, c.dk, c.dv);
    for (std::int64_t i = 0; i < c.T * r.q_stride; ++i) r.q[i] *= 3.0f;  // peaked distributions too
    Grads g(rng, r);
    const float scale = float(1.0 / std::sqrt(double(c.dk)));
    softmax_attention_backward(g.dq.data() + r.qo(), g.dk.data() + r.qo(), g.dv.data() + r.vo(),
                               r.d_o.data() + r.vo(), r.o_stride, r.q.data() + r.qo(), r.q_stride, r.k.data() + r.qo(),
                               r.k_stride, r.v.data() + r.vo(), r.v_stride, c.T, c.dk, c.dv, scale);
    const auto q = gather(r.q, c.T, r.q_stride, r.qo(), c.dk), k = gather(r.k, c.T, r.k_stride, r.qo(), c.dk),
               v = gather(r.v, c.T, r.v_stride, r.vo(), c.dv), d_o = gather(r.d_o, c.T, r.o_stride, r.vo(), c.dv);
    const auto gq = numeric_gradient(q, [&](const auto& x) { return softmax_loss(x, k, v, d_o, c.T, c.dk, c.dv, scale); });
    const auto gk = numeric_gradient(k, [&](const auto& x) { return softmax_loss(q, x, v, d_o, c.T, c.dk, c.dv, scale); });
    const auto gv = numeric_gradient(v, [&](const auto& x) { return softmax_loss(q, k, x, d_o, c.T, c.dk, c.dv, scale); });
    const std::string what = "T=" + std::to_string(c.T) + " d=" + std::to_string(c.dk);
    EXPECT_TRUE(close_to(added(g.dq, g.dq0, c.T, r.q_stride, r.qo(), c.dk), gq, kGradTol, "dq " + what, c.dk));
    EXPECT_TRUE(close_to(added(g.dk, g.dk0, c.T, r.k_stride, r.qo(), c.dk), gk, kGradTol, "dk " + what, c.dk));
    EXPECT_TRUE(close_to(added(g.dv, g.dv0, c.T, r.v_stride, r.vo(), c.dv), gv, kGradTol, "dv " + what, c.dv));
  }
}

}  // namespace
}  // namespace supra::kernels::test
