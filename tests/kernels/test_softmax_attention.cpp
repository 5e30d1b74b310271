// softmax_attention against a naive causal softmax (spec §4) over a cache, bottom-right
// aligned: query t sits at absolute position first_pos + t and sees keys 0 .. first_pos + t.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/kernels.h"

namespace supra::kernels::test {
namespace {

constexpr float kSentinel = 12345.0f;

// One query head over its cache. Rows carry other heads' columns around this head's slice
// (`lead` floats before it, padding after), as cached rows of a multi-head model do.
struct Problem {
  std::int64_t T, first_pos, d, dv;
  static constexpr std::int64_t lead = 3;
  std::int64_t q_stride, k_stride, v_stride, o_stride;
  Floats q, keys, values;
  float scale;

  Problem(std::mt19937& rng, std::int64_t T_, std::int64_t first_pos_, std::int64_t d_, std::int64_t dv_, float q_range)
      : T(T_),
        first_pos(first_pos_),
        d(d_),
        dv(dv_),
        q_stride(d + lead + 1),
        k_stride(2 * d + lead),
        v_stride(dv + lead + 2),
        o_stride(dv + lead + 1),
        q(random_floats(rng, T * q_stride, -q_range, q_range)),
        keys(random_floats(rng, (first_pos + T) * k_stride)),
        values(random_floats(rng, (first_pos + T) * v_stride)),
        scale(float(1.0 / std::sqrt(double(d)))) {}
  const float* q_row(std::int64_t t) const { return q.data() + t * q_stride + lead; }
  const float* key(std::int64_t j) const { return keys.data() + j * k_stride + lead; }
  const float* value(std::int64_t j) const { return values.data() + j * v_stride + lead; }
  std::string describe() const {
    return "softmax_attention T=" + std::to_string(T) + " first_pos=" + std::to_string(first_pos) +
           " d=" + std::to_string(d) + " dv=" + std::to_string(dv);
  }
};

// o_t = Σ_{j ≤ first_pos+t} softmax_j(c ⟨q_t, k_j⟩) v_j, the softmax shifted by its maximum
// so that large scores stay finite in double too.
std::vector<double> reference(const Problem& p) {
  std::vector<double> o(static_cast<std::size_t>(p.T * p.dv));
  for (std::int64_t t = 0; t < p.T; ++t) {
    const std::int64_t n_keys = p.first_pos + t + 1;
    std::vector<double> score(static_cast<std::size_t>(n_keys));
    for (std::int64_t j = 0; j < n_keys; ++j) {
      double s = 0;
      for (std::int64_t e = 0; e < p.d; ++e) s += double(p.q_row(t)[e]) * p.key(j)[e];
      score[j] = s * p.scale;
    }
    const double max_score = *std::max_element(score.begin(), score.end());
    double sum = 0;
    for (double& s : score) sum += (s = std::exp(s - max_score));
    for (std::int64_t f = 0; f < p.dv; ++f) {
      double acc = 0;
      for (std::int64_t j = 0; j < n_keys; ++j) acc += score[j] / sum * p.value(j)[f];
      o[t * p.dv + f] = acc;
    }
  }
  return o;
}

// Runs the kernel into a sentinel-filled strided output; returns this head's columns and
// checks that no other column was written.
// The kernel on scratch of the size it asks for.
void attend(float* o, std::int64_t o_stride, const float* q, std::int64_t q_stride, std::int64_t heads,
            const float* keys, std::int64_t k_stride, const float* values, std::int64_t v_stride, std::int64_t T,
            std::int64_t first_pos, std::int64_t d, std::int64_t dv, float scale) {
  std::vector<float> scratch(static_cast<std::size_t>(softmax_attention_scratch(T, first_pos, heads, d, dv)));
  softmax_attention(o, o_stride, q, q_stride, heads, keys, k_stride, values, v_stride, T, first_pos, d, dv, scale,
                    scratch.data());
}

std::vector<float> run_kernel(const Problem& p) {
  Floats o(p.T * p.o_stride, kSentinel);
  attend(o.data() + Problem::lead, p.o_stride, p.q_row(0), p.q_stride, 1, p.key(0), p.k_stride, p.value(0), p.v_stride,
         p.T, p.first_pos, p.d, p.dv, p.scale);
  std::vector<float> out;
  for (std::int64_t t = 0; t < p.T; ++t)
    for (std::int64_t col = 0; col < p.o_stride; ++col) {
      const float x = o[t * p.o_stride + col];
      if (col >= Problem::lead && col < Problem::lead + p.dv)
        out.push_back(x);
      else
        EXPECT_EQ(x, kSentinel) << p.describe() << ": row " << t << " column " << col << " outside the head written";
    }
  return out;
}

TEST(SoftmaxAttention, MatchesNaiveCausalSoftmax) {
  auto rng = seeded_rng();
  // {d, dv}: d ≠ dv both ways, odd widths.
  const std::int64_t dims[][2] = {{7, 5}, {8, 33}};
  // T = 1 is decode (one query sees the whole cache); first_pos > 0 continues after cached tokens.
  for (const auto& dim : dims)
    for (std::int64_t T : {1, 7, 33})
      for (std::int64_t first_pos : {0, 1, 65}) {
        const Problem p(rng, T, first_pos, dim[0], dim[1], 1.0f);
        EXPECT_TRUE(close_to(run_kernel(p), reference(p), kRelTol, p.describe(), p.dv));
      }
}

TEST(SoftmaxAttention, GroupedHeadsEqualOneHeadAtATime) {
  // Three query heads of one kv group side by side in each row, in one call (tiles of 21 tokens
  // × 3 heads, so T = 33 spans two tiles) and head by head.
  auto rng = seeded_rng();
  const std::int64_t heads = 3, d = 8, dv = 5, T = 33, first_pos = 9;
  const std::int64_t q_stride = heads * d + 2, o_stride = heads * dv + 1, k_stride = d + 3, v_stride = dv + 1;
  const Floats q(random_floats(rng, T * q_stride));
  const Floats keys(random_floats(rng, (first_pos + T) * k_stride));
  const Floats values(random_floats(rng, (first_pos + T) * v_stride));
  const float scale = 0.35f;
  Floats grouped(T * o_stride, kSentinel), single(T * o_stride, kSentinel);
  attend(grouped.data(), o_stride, q.data(), q_stride, heads, keys.data(), k_stride, values.data(), v_stride, T,
         first_pos, d, dv, scale);
  for (std::int64_t h = 0; h < heads; ++h)
    attend(single.data() + h * dv, o_stride, q.data() + h * d, q_stride, 1, keys.data(), k_stride, values.data(),
           v_stride, T, first_pos, d, dv, scale);
  for (std::int64_t i = 0; i < T * o_stride; ++i) {
    if (i % o_stride == heads * dv) {
      EXPECT_EQ(grouped[i], kSentinel) << "padding column written at " << i;
      continue;
    }
    EXPECT_NEAR(grouped[i], single[i], 1e-6f * (1.0f + std::fabs(single[i]))) << "element " << i;
  }
}

// Scores near +200 and -200: exp overflows (or underflows to 0/0) in float32 unless the
// kernel shifts by the row maximum. Inputs are multiples of 1/4 and c = 1/2 (d = 4), so the
// float32 scores are exact and only the softmax itself can introduce error.
TEST(SoftmaxAttention, StableForLargeScores) {
  auto rng = seeded_rng();
  Problem p(rng, 7, 20, 4, 6, 2.0f);
  const auto quarter = [](float x) { return std::round(4.0f * x) / 4.0f; };
  for (std::int64_t t = 0; t < p.T; ++t) {
    float* qt = p.q.data() + t * p.q_stride + Problem::lead;
    for (std::int64_t e = 0; e < p.d; ++e) qt[e] = quarter(qt[e]);
    qt[0] = t % 2 == 0 ? 400.0f : -400.0f;  // a common offset of ±200 on every score of row t
  }
  for (std::int64_t j = 0; j < p.first_pos + p.T; ++j) {
    float* kj = p.keys.data() + j * p.k_stride + Problem::lead;
    for (std::int64_t e = 0; e < p.d; ++e) kj[e] = quarter(kj[e]);
    kj[0] = 1.0f;
  }
  EXPECT_TRUE(close_to(run_kernel(p), reference(p), kRelTol, p.describe() + " scores near ±200", p.dv));
}

}  // namespace
}  // namespace supra::kernels::test
