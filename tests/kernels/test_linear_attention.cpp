// linear_attention_block against the naive O(T²) definition (spec §3.7-3.8), and against
// T successive linear_attention_step calls: the parallel/recurrent identity that lets the
// engine prefill with blocks and decode with steps.
//
// Heads are interleaved in each row, as the model lays out q, k, v and o, with strides
// larger than the heads (padding columns) so that a kernel assuming packed rows, or
// writing outside its head, fails. T crosses the kernel's 64-token chunk.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/kernels.h"

namespace supra::kernels::test {
namespace {

constexpr std::int64_t kHeads = 3;
// One decay per head: none (log γ = 0), a model-like slow decay, and a strong one whose
// γ^64 underflows float32.
constexpr double kLogGamma[kHeads] = {0.0, -0.05, -2.0};
constexpr std::int64_t kLengths[] = {1, 63, 64, 65, 200};
constexpr float kSentinel = 12345.0f;

// One block of tokens for all heads: rows of q, k, v and o with heads side by side and a few
// unused columns at the end of each row.
struct Problem {
  std::int64_t T, dqk, dv;
  std::int64_t q_stride, k_stride, v_stride, o_stride;
  Floats q, k, v;
  std::vector<std::vector<float>> S0;  // per head [dqk, dv]: a non-zero carried-in state
  float scale;

  Problem(std::mt19937& rng, std::int64_t T_, std::int64_t dqk_, std::int64_t dv_)
      : T(T_),
        dqk(dqk_),
        dv(dv_),
        q_stride(kHeads * dqk + 1),
        k_stride(kHeads * dqk + 2),
        v_stride(kHeads * dv + 1),
        o_stride(kHeads * dv + 3),
        q(random_floats(rng, T * q_stride)),
        k(random_floats(rng, T * k_stride)),
        v(random_floats(rng, T * v_stride)),
        scale(float(1.0 / std::sqrt(double(dqk)))) {
    for (std::int64_t h = 0; h < kHeads; ++h) S0.push_back(random_floats(rng, dqk * dv));
  }
  const float* q_row(std::int64_t t, std::int64_t h) const { return q.data() + t * q_stride + h * dqk; }
  const float* k_row(std::int64_t t, std::int64_t h) const { return k.data() + t * k_stride + h * dqk; }
  const float* v_row(std::int64_t t, std::int64_t h) const { return v.data() + t * v_stride + h * dv; }
  std::string describe(std::int64_t h) const {
    return "T=" + std::to_string(T) + " dqk=" + std::to_string(dqk) + " dv=" + std::to_string(dv) +
           " head=" + std::to_string(h) + " log_gamma=" + std::to_string(kLogGamma[h]);
  }
};

struct Result {
  std::vector<double> o;  // [T, dv]
  std::vector<double> S;  // [dqk, dv]
};

// o_t = Σ_{j≤t} γ^{t−j} c ⟨q_t, k_j⟩ v_j + γ^t q_t S0,   S_T = γ^T S0 + Σ_j γ^{T−j} c k_jᵀ v_j
Result reference(const Problem& p, std::int64_t h) {
  const double c = p.scale, log_gamma = kLogGamma[h];
  const auto gamma_pow = [&](std::int64_t n) { return std::exp(log_gamma * double(n)); };
  const std::vector<float>& S0 = p.S0[h];
  Result r{std::vector<double>(static_cast<std::size_t>(p.T * p.dv)),
           std::vector<double>(static_cast<std::size_t>(p.dqk * p.dv))};
  for (std::int64_t t = 0; t < p.T; ++t) {
    const float* qt = p.q_row(t, h);
    for (std::int64_t f = 0; f < p.dv; ++f) {
      double sum = 0;
      for (std::int64_t j = 0; j <= t; ++j) {
        double qk = 0;
        for (std::int64_t e = 0; e < p.dqk; ++e) qk += double(qt[e]) * p.k_row(j, h)[e];
        sum += gamma_pow(t - j) * c * qk * p.v_row(j, h)[f];
      }
      double qS = 0;
      for (std::int64_t e = 0; e < p.dqk; ++e) qS += double(qt[e]) * S0[e * p.dv + f];
      r.o[t * p.dv + f] = sum + gamma_pow(t) * qS;
    }
  }
  for (std::int64_t e = 0; e < p.dqk; ++e)
    for (std::int64_t f = 0; f < p.dv; ++f) {
      double s = gamma_pow(p.T) * S0[e * p.dv + f];
      for (std::int64_t j = 0; j < p.T; ++j) s += gamma_pow(p.T - j) * c * p.k_row(j, h)[e] * p.v_row(j, h)[f];
      r.S[e * p.dv + f] = s;
    }
  return r;
}

// This head's columns of the strided output, packed [T, dv].
std::vector<float> head_columns(const Floats& o, const Problem& p, std::int64_t h) {
  std::vector<float> out;
  for (std::int64_t t = 0; t < p.T; ++t)
    for (std::int64_t f = 0; f < p.dv; ++f) out.push_back(o[t * p.o_stride + h * p.dv + f]);
  return out;
}

// The padding columns no head owns must still hold the sentinel.
void expect_padding_untouched(const Floats& o, const Problem& p) {
  for (std::int64_t t = 0; t < p.T; ++t)
    for (std::int64_t col = kHeads * p.dv; col < p.o_stride; ++col)
      ASSERT_EQ(o[t * p.o_stride + col], kSentinel) << "row " << t << " padding column " << col << " overwritten";
}

// Runs the block kernel on every head, splitting the T tokens into consecutive calls at
// `splits` (each call continues from the state the previous one left).
std::vector<std::vector<float>> run_blocks(Floats& o, const Problem& p, const std::vector<std::int64_t>& splits) {
  std::vector<std::vector<float>> S = p.S0;
  for (std::int64_t h = 0; h < kHeads; ++h) {
    std::int64_t start = 0;
    for (std::size_t i = 0; i <= splits.size(); ++i) {
      const std::int64_t end = i < splits.size() ? splits[i] : p.T;
      linear_attention_block(o.data() + start * p.o_stride + h * p.dv, p.o_stride, S[h].data(), p.q_row(start, h),
                             p.q_stride, p.k_row(start, h), p.k_stride, p.v_row(start, h), p.v_stride, end - start,
                             p.dqk, p.dv, kLogGamma[h], p.scale);
      start = end;
    }
  }
  return S;
}

// {dqk, dv}: dqk ≠ dv both ways, widths that are not multiples of a vector width.
constexpr std::int64_t kDims[][2] = {{9, 6}, {4, 33}};

TEST(LinearAttentionBlock, MatchesNaiveDefinition) {
  auto rng = seeded_rng();
  for (const auto& dims : kDims)
    for (std::int64_t T : kLengths) {
      const Problem p(rng, T, dims[0], dims[1]);
      Floats o(T * p.o_stride, kSentinel);
      const std::vector<std::vector<float>> S = run_blocks(o, p, {});
      expect_padding_untouched(o, p);
      for (std::int64_t h = 0; h < kHeads; ++h) {
        const Result ref = reference(p, h);
        EXPECT_TRUE(close_to(head_columns(o, p, h), ref.o, kRelTol, "linear_attention_block o " + p.describe(h), p.dv));
        EXPECT_TRUE(close_to(S[h], ref.S, kRelTol, "linear_attention_block final S " + p.describe(h), p.dv));
      }
    }
}

// Prefill in pieces (chunked prompts, or a prompt after earlier turns) must equal one call.
TEST(LinearAttentionBlock, ResumesFromItsOwnState) {
  auto rng = seeded_rng();
  const Problem p(rng, 200, 9, 6);
  Floats o(p.T * p.o_stride, kSentinel);
  const std::vector<std::vector<float>> S = run_blocks(o, p, {1, 37, 101, 165});
  expect_padding_untouched(o, p);
  for (std::int64_t h = 0; h < kHeads; ++h) {
    const Result ref = reference(p, h);
    const std::string what = "linear_attention_block split at 1,37,101,165 " + p.describe(h);
    EXPECT_TRUE(close_to(head_columns(o, p, h), ref.o, kRelTol, what + " o", p.dv));
    EXPECT_TRUE(close_to(S[h], ref.S, kRelTol, what + " final S", p.dv));
  }
}

TEST(LinearAttentionStep, SuccessiveStepsEqualOneBlock) {
  auto rng = seeded_rng();
  for (const auto& dims : kDims)
    for (std::int64_t T : kLengths) {
      const Problem p(rng, T, dims[0], dims[1]);
      Floats o_block(T * p.o_stride, kSentinel);
      const std::vector<std::vector<float>> S_block = run_blocks(o_block, p, {});
      for (std::int64_t h = 0; h < kHeads; ++h) {
        std::vector<float> S_step = p.S0[h];
        Floats o_step(T * p.dv);
        const float gamma = float(std::exp(kLogGamma[h]));
        for (std::int64_t t = 0; t < T; ++t)
          linear_attention_step(o_step.data() + t * p.dv, S_step.data(), p.q_row(t, h), p.k_row(t, h), p.v_row(t, h),
                                p.dqk, p.dv, gamma, p.scale);
        const std::vector<float> block_o = head_columns(o_block, p, h);
        const std::vector<double> block_o_d(block_o.begin(), block_o.end());
        const std::vector<double> block_S_d(S_block[h].begin(), S_block[h].end());
        EXPECT_TRUE(close_to(o_step.span(), block_o_d, kRelTol, "T steps vs block, o " + p.describe(h), p.dv));
        EXPECT_TRUE(close_to(S_step, block_S_d, kRelTol, "T steps vs block, final S " + p.describe(h), p.dv));
      }
    }
}

}  // namespace
}  // namespace supra::kernels::test
