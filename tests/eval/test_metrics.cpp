// lm-eval's multiple-choice metrics (shared docs/lm-eval-protocol.md §5): decisions with ties,
// acc_norm by code points, the mean's standard error and MMLU's pooled group error.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "supra/eval_metrics.h"
#include "supra/error.h"

namespace supra::eval {
namespace {

TEST(Metrics, CodePointsCountCharactersNotBytes) {
  EXPECT_EQ(code_points(""), 0u);
  EXPECT_EQ(code_points("abc"), 3u);
  EXPECT_EQ(code_points("caf\xC3\xA9"), 4u);              // é: 2 bytes
  EXPECT_EQ(code_points("\xE6\x97\xA5\xE6\x9C\xAC"), 2u);  // 日本: 3 bytes each
  EXPECT_EQ(code_points("\xF0\x9F\x99\x82!"), 2u);         // an emoji (4 bytes) and '!'
}

TEST(Metrics, ArgmaxTiesGoToTheLowestIndex) {
  const std::vector<double> tie = {-3.0, -1.0, -1.0, -2.0};
  EXPECT_EQ(argmax_first(tie), 1u);
  const std::vector<double> all_equal = {-5.0, -5.0, -5.0};
  EXPECT_EQ(argmax_first(all_equal), 0u);
  const std::vector<double> last = {-5.0, -4.0, -0.5};
  EXPECT_EQ(argmax_first(last), 2u);
}

TEST(Metrics, DecisionsWithTies) {
  const std::vector<double> lls = {-4.0, -4.0};
  const Decision d = decide(lls, {"ab", "cd"}, 1, true);
  EXPECT_EQ(d.pred, 0u);
  EXPECT_FALSE(d.acc);
  EXPECT_EQ(*d.pred_norm, 0u);
  EXPECT_FALSE(*d.acc_norm);
}

// "ééé" is 3 code points but 6 bytes: divided by bytes it would win (-1 > -1.5), divided by
// code points it loses (-2 < -1.5).
TEST(Metrics, AccNormDividesByCodePoints) {
  const std::vector<double> lls = {-6.0, -6.0};
  const Decision d = decide(lls, {"\xC3\xA9\xC3\xA9\xC3\xA9", "abcd"}, 1, true);
  EXPECT_EQ(d.pred, 0u);
  EXPECT_FALSE(d.acc);
  EXPECT_EQ(*d.pred_norm, 1u);
  EXPECT_TRUE(*d.acc_norm);
}

TEST(Metrics, AccNormOnlyWhenReported) {
  const std::vector<double> lls = {-1.0, -2.0};
  const Decision d = decide(lls, {"a", "b"}, 0, false);
  EXPECT_TRUE(d.acc);
  EXPECT_FALSE(d.pred_norm.has_value());
  EXPECT_FALSE(d.acc_norm.has_value());
}

TEST(Metrics, BadDocumentsAreErrors) {
  const std::vector<double> two = {-1.0, -2.0};
  EXPECT_THROW(decide(two, {"a"}, 0, false), Error);
  EXPECT_THROW(decide(two, {"a", "b"}, 2, false), Error);
  EXPECT_THROW(decide(two, {"a", "b"}, -1, false), Error);
  EXPECT_THROW(decide(two, {"a", ""}, 0, true), Error);
  EXPECT_NO_THROW(decide(two, {"a", ""}, 0, false));  // lengths matter only to acc_norm
}

TEST(Metrics, MeanStderrUsesTheSampleDeviation) {
  const std::vector<double> x = {1, 0, 0, 1};
  const Estimate e = mean_estimate(x);
  EXPECT_EQ(e.n, 4);
  EXPECT_DOUBLE_EQ(e.value, 0.5);
  // sample variance 1/3 (n - 1 = 3), divided by n = 4 under the root
  EXPECT_NEAR(*e.std_error, std::sqrt(1.0 / 3.0) / 2.0, 1e-15);
  // summary.json of evalref: 25 documents, 8 right
  std::vector<double> hellaswag(25, 0.0);
  for (int i = 0; i < 8; ++i) hellaswag[static_cast<std::size_t>(i)] = 1;
  EXPECT_NEAR(*mean_estimate(hellaswag).std_error, 0.09521904571390465, 1e-15);
}

TEST(Metrics, StderrIsUndefinedForOneDocument) {
  const std::vector<double> one = {1};
  const Estimate e = mean_estimate(one);
  EXPECT_EQ(e.n, 1);
  EXPECT_DOUBLE_EQ(e.value, 1);
  EXPECT_FALSE(e.std_error.has_value());
  EXPECT_EQ(mean_estimate(std::vector<double>{}).n, 0);
}

TEST(Metrics, PooledGroupIsTheMicroAverage) {
  const std::vector<double> a = {1, 0, 0, 1};
  const std::vector<double> b = {1, 1};
  const std::vector<Estimate> members = {mean_estimate(a), mean_estimate(b)};
  const Estimate group = pooled_estimate(members);
  EXPECT_EQ(group.n, 6);
  EXPECT_NEAR(group.value, 4.0 / 6.0, 1e-15);  // not the mean of the means (0.75)
  // (3 · (1/12) · 4 + 1 · 0 · 2) / (6 - 2) / 6 = 1/24
  EXPECT_NEAR(*group.std_error, std::sqrt(1.0 / 24.0), 1e-15);
}

// evalref summary.json (v0.4.2): five MMLU subjects of 5 documents, accuracies .2 .2 0 .2 0.
TEST(Metrics, PooledStderrMatchesTheReference) {
  std::vector<Estimate> members;
  for (const int right : {1, 1, 0, 1, 0}) {
    std::vector<double> x(5, 0.0);
    if (right) x[0] = 1;
    members.push_back(mean_estimate(x));
  }
  const Estimate group = pooled_estimate(members);
  EXPECT_NEAR(group.value, 0.12, 1e-15);
  EXPECT_NEAR(*group.std_error, 0.0692820323027551, 1e-15);
}

TEST(Metrics, PooledStderrIsUndefinedWhenAMemberHasNone) {
  const std::vector<Estimate> members = {mean_estimate(std::vector<double>{1, 0}),
                                         mean_estimate(std::vector<double>{1})};
  const Estimate group = pooled_estimate(members);
  EXPECT_EQ(group.n, 3);
  EXPECT_NEAR(group.value, 2.0 / 3.0, 1e-15);
  EXPECT_FALSE(group.std_error.has_value());
}

}  // namespace
}  // namespace supra::eval
