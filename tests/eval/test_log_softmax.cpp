// token_log_prob (vectorised, float64 sums) against the plain definition, over rows whose
// lengths leave every tail size, with ties, large spreads and a 32K vocabulary.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "eval/log_softmax.h"

namespace supra::eval {
namespace {

// log softmax(row)[target] summed in order with std::exp, and the first index of the maximum.
TokenLogProb reference(const std::vector<float>& row, std::size_t target) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < row.size(); ++i)
    if (row[i] > row[best]) best = i;
  double sum = 0;
  for (const float x : row) sum += std::exp(static_cast<double>(x) - row[best]);
  return {static_cast<double>(row[target]) - row[best] - std::log(sum), best == target};
}

TEST(TokenLogProb, EqualsThePlainDefinition) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  for (const std::size_t n : {1u, 2u, 3u, 7u, 8u, 15u, 16u, 17u, 31u, 33u, 100u, 32000u}) {
    std::vector<float> row(n);
    for (float& x : row) x = normal(rng);
    row[n / 2] = -1e30f;  // far below the rest: exp underflows to 0
    for (const std::size_t target : {std::size_t{0}, n / 2, n - 1}) {
      const TokenLogProb got = token_log_prob(row, static_cast<TokenId>(target));
      const TokenLogProb want = reference(row, target);
      EXPECT_NEAR(got.log_prob, want.log_prob, 1e-12 * std::max(1.0, std::fabs(want.log_prob))) << n << " " << target;
      EXPECT_EQ(got.is_argmax, want.is_argmax) << n << " " << target;
    }
  }
}

TEST(TokenLogProb, ArgmaxIsTheFirstOfTiedMaxima) {
  std::vector<float> row(40, 1.0f);
  row[9] = row[23] = 3.0f;
  EXPECT_TRUE(token_log_prob(row, 9).is_argmax);
  EXPECT_FALSE(token_log_prob(row, 23).is_argmax);
  EXPECT_EQ(token_log_prob(row, 9).log_prob, token_log_prob(row, 23).log_prob);
  EXPECT_NEAR(token_log_prob(row, 0).log_prob, 1.0 - 3.0 - std::log(2.0 + 38.0 * std::exp(-2.0)), 1e-12);
}

TEST(TokenLogProb, OneValueIsCertain) {
  EXPECT_EQ(token_log_prob(std::vector<float>{-7.5f}, 0).log_prob, 0.0);
  EXPECT_TRUE(token_log_prob(std::vector<float>{-7.5f}, 0).is_argmax);
}

}  // namespace
}  // namespace supra::eval
