// Sampler: each HF logits processor against hand-computed values, validation messages,
// greedy mode, and the seeded categorical draw (determinism and frequencies).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "supra/error.h"
#include "supra/sampler.h"

namespace supra {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Log-probabilities: their softmax is exactly `probs` up to rounding.
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> out;
  for (double p : probs) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

std::vector<bool> kept(const std::vector<float>& scores) {
  std::vector<bool> out;
  for (float s : scores) out.push_back(s != -kInf);
  return out;
}

// Expects `params.validate()` to throw a supra::Error whose message names `flag`.
void expect_rejected(const SamplingParams& params, const std::string& flag) {
  try {
    params.validate();
    ADD_FAILURE() << "accepted, expected an error naming " << flag;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
  }
}

SamplingParams plain_sampling(std::uint64_t seed) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.repetition_penalty = 1.0f;
  p.seed = seed;
  return p;
}

// Empirical frequency of each token over `draws` samples of `logits` (copied per draw,
// since sample() processes its input in place).
std::vector<double> frequencies(Sampler& sampler, const std::vector<float>& logits, int draws) {
  std::vector<double> freq(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) {
    std::vector<float> scores = logits;
    freq[static_cast<std::size_t>(sampler.sample(scores, {}))] += 1.0;
  }
  for (double& f : freq) f /= draws;
  return freq;
}

TEST(RepetitionPenalty, DividesPositiveMultipliesNegativeDividesZero) {
  std::vector<float> scores{2.0f, -1.0f, 0.0f, 3.0f, 5.0f};
  apply_repetition_penalty(scores, std::vector<TokenId>{0, 1, 2}, 2.0f);
  EXPECT_EQ(scores, (std::vector<float>{1.0f, -2.0f, 0.0f, 3.0f, 5.0f}));
}

TEST(RepetitionPenalty, AppliedOncePerDistinctId) {
  std::vector<float> scores{2.0f, -1.0f, 4.0f};
  // id 0 three times and id 1 twice: still 2/2 and -1*2, not 2/8 and -1*4.
  apply_repetition_penalty(scores, std::vector<TokenId>{0, 1, 0, 0, 1}, 2.0f);
  EXPECT_EQ(scores, (std::vector<float>{1.0f, -2.0f, 4.0f}));
}

TEST(RepetitionPenalty, RejectsIdsOutsideVocabulary) {
  std::vector<float> scores{1.0f, 2.0f, 3.0f};
  EXPECT_THROW(apply_repetition_penalty(scores, std::vector<TokenId>{3}, 1.1f), Error);
  EXPECT_THROW(apply_repetition_penalty(scores, std::vector<TokenId>{0, -1}, 1.1f), Error);
  EXPECT_EQ(scores, (std::vector<float>{1.0f, 2.0f, 3.0f}));  // checked before any change
}

TEST(Temperature, DividesEveryScore) {
  std::vector<float> scores{1.0f, -2.0f, 0.5f, -kInf};
  apply_temperature(scores, 0.5f);
  EXPECT_EQ(scores, (std::vector<float>{2.0f, -4.0f, 1.0f, -kInf}));
  EXPECT_THROW(apply_temperature(scores, 0.0f), Error);
}

TEST(TopK, KeepsScoresAtOrAboveKthLargest) {
  std::vector<float> scores{1.0f, 4.0f, 3.0f, 2.0f, 0.0f};
  apply_top_k(scores, 2);  // k-th largest is 3
  EXPECT_EQ(scores, (std::vector<float>{-kInf, 4.0f, 3.0f, -kInf, -kInf}));
}

TEST(TopK, TiesAtThresholdAreAllKept) {
  std::vector<float> scores{1.0f, 3.0f, 2.0f, 2.0f, 0.0f};
  apply_top_k(scores, 2);  // k-th largest is 2, held by two tokens: three survive
  EXPECT_EQ(scores, (std::vector<float>{-kInf, 3.0f, 2.0f, 2.0f, -kInf}));

  std::vector<float> equal{5.0f, 5.0f, 5.0f};
  apply_top_k(equal, 1);
  EXPECT_EQ(equal, (std::vector<float>{5.0f, 5.0f, 5.0f}));
}

TEST(TopK, KLargerThanVocabularyOrZeroChangesNothing) {
  const std::vector<float> original{1.0f, -2.0f, 3.0f};
  std::vector<float> scores = original;
  apply_top_k(scores, 10);
  EXPECT_EQ(scores, original);
  apply_top_k(scores, 0);
  EXPECT_EQ(scores, original);
  EXPECT_THROW(apply_top_k(scores, -1), Error);
}

// Probabilities 0.5, 0.3, 0.15, 0.05 (placed out of order). Sorted ascending:
// 0.05, 0.15, 0.3, 0.5 with cumulative sums 0.05, 0.20, 0.50, 1.00.
// p = 0.75: remove cumsum <= 0.25 -> 0.05 and 0.15 go, 0.3 and 0.5 stay (2 tokens).
// p = 0.9:  remove cumsum <= 0.10 -> only 0.05 goes (3 tokens).
// (p = 0.8 is deliberately not used: 0.20 <= 0.20 holds in exact arithmetic, so the
// outcome there is decided by rounding, in HF's float32 as in our double.)
TEST(TopP, WorkedExample) {
  const std::vector<float> original = logits_of({0.15, 0.5, 0.05, 0.3});
  std::vector<float> scores = original;
  apply_top_p(scores, 0.75f);
  EXPECT_EQ(kept(scores), (std::vector<bool>{false, true, false, true}));
  EXPECT_EQ(scores[1], original[1]);  // survivors are untouched
  EXPECT_EQ(scores[3], original[3]);

  scores = original;
  apply_top_p(scores, 0.9f);
  EXPECT_EQ(kept(scores), (std::vector<bool>{true, true, false, true}));
}

TEST(TopP, AlwaysKeepsTheMostLikelyToken) {
  std::vector<float> scores = logits_of({0.2, 0.3, 0.5});
  apply_top_p(scores, 1e-6f);
  EXPECT_EQ(kept(scores), (std::vector<bool>{false, false, true}));
}

TEST(TopP, TiesBreakByStableAscendingOrder) {
  // Four equal scores: ascending order is 0, 1, 2, 3 (stable), cumsums 0.25, 0.5, 0.75, 1.
  // p = 0.5 removes cumsum <= 0.5, i.e. the first two in that order.
  std::vector<float> scores{0.0f, 0.0f, 0.0f, 0.0f};
  apply_top_p(scores, 0.5f);
  EXPECT_EQ(kept(scores), (std::vector<bool>{false, false, true, true}));
}

TEST(TopP, RemovedTokensCountAsZeroProbability) {
  // After top-k the -inf entries carry no mass: the rest is 0.5, 0.3, 0.2 and p = 0.75
  // removes only the 0.2 (cumsums 0.2, 0.5, 1.0 against 0.25).
  std::vector<float> scores = logits_of({0.5, 0.3, 0.2});
  scores.insert(scores.begin(), -kInf);
  apply_top_p(scores, 0.75f);
  EXPECT_EQ(kept(scores), (std::vector<bool>{false, true, true, false}));
  std::vector<float> unchanged = scores;
  apply_top_p(unchanged, 1.0f);
  EXPECT_EQ(unchanged, scores);
}

// min-p 0.25 over probabilities 0.5, 0.2, 0.13, 0.1, 0.07: the bar is 0.25 * 0.5 = 0.125, so
// 0.13 stays and 0.1, 0.07 go.
TEST(MinP, DropsTokensBelowPTimesTheMostLikely) {
  std::vector<float> scores = logits_of({0.5, 0.2, 0.13, 0.1, 0.07});
  apply_min_p(scores, 0.25f);
  EXPECT_EQ(kept(scores), (std::vector<bool>{true, true, true, false, false}));
  // Relative to the top token, so unnormalised scores give the same cut.
  std::vector<float> shifted = logits_of({0.5, 0.2, 0.13, 0.1, 0.07});
  for (float& s : shifted) s += 7.0f;
  apply_min_p(shifted, 0.25f);
  EXPECT_EQ(kept(shifted), kept(scores));
}

TEST(MinP, ZeroChangesNothingOneKeepsOnlyTheTopAndNaNGoes) {
  const std::vector<float> original{1.0f, 2.0f, -kInf, 0.5f};
  std::vector<float> scores = original;
  apply_min_p(scores, 0.0f);
  EXPECT_EQ(scores, original);
  std::vector<float> ties{2.0f, 1.0f, 2.0f, kNaN};
  apply_min_p(ties, 1.0f);
  EXPECT_EQ(kept(ties), (std::vector<bool>{true, false, true, false}));
  EXPECT_THROW(apply_min_p(scores, 1.5f), Error);
}

// After temperature, as llama.cpp and HF apply it: at T = 2 the ratio 0.2 / 0.5 = 0.4 becomes
// sqrt(0.4) = 0.63, which survives min-p 0.5; at T = 1 it does not.
TEST(Sampler, MinPIsAppliedAfterTemperature) {
  const std::vector<float> logits = logits_of({0.5, 0.2, 0.3});
  SamplingParams p = plain_sampling(9);
  p.min_p = 0.5f;
  Sampler cold(p);
  const std::vector<double> at_one = frequencies(cold, logits, 4000);
  EXPECT_EQ(at_one[1], 0.0);
  EXPECT_GT(at_one[2], 0.0);  // 0.3 / 0.5 = 0.6 stays
  p.temperature = 2.0f;
  Sampler warm(p);
  EXPECT_GT(frequencies(warm, logits, 4000)[1], 0.0);
}

TEST(Argmax, FirstMaximumAndNaNAsSmallest) {
  EXPECT_EQ(argmax(std::vector<float>{1.0f, 3.0f, 3.0f, 2.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{kNaN, 1.0f, 3.0f, kNaN, 3.0f}), 2);
  EXPECT_EQ(argmax(std::vector<float>{kNaN, -kInf}), 1);
  EXPECT_EQ(argmax(std::vector<float>{kNaN, kNaN}), 0);
  EXPECT_THROW(argmax(std::vector<float>{}), Error);
}

TEST(Validate, NamesTheOffendingFlag) {
  const SamplingParams good;
  EXPECT_NO_THROW(good.validate());
  for (float t : {kNaN, kInf, -0.1f}) {
    SamplingParams p;
    p.temperature = t;
    expect_rejected(p, "--temperature");
  }
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  EXPECT_NO_THROW(greedy.validate());

  SamplingParams k;
  k.top_k = -1;
  expect_rejected(k, "--top-k");

  for (float v : {0.0f, -0.5f, 1.5f, kNaN}) {
    SamplingParams p;
    p.top_p = v;
    expect_rejected(p, "--top-p");
  }

  for (float v : {0.0f, -1.0f, kNaN, kInf}) {
    SamplingParams p;
    p.repetition_penalty = v;
    expect_rejected(p, "--repetition-penalty");
  }
  for (float v : {-0.1f, 1.5f, kNaN}) {
    SamplingParams p;
    p.min_p = v;
    expect_rejected(p, "--min-p");
  }

  SamplingParams bad = good;
  bad.top_p = 2.0f;
  EXPECT_THROW(Sampler{bad}, Error);  // the constructor validates too
}

TEST(Sampler, GreedyAppliesOnlyThePenalty) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.top_k = 1;
  p.top_p = 0.1f;
  p.repetition_penalty = 2.0f;
  Sampler sampler(p);
  std::vector<float> scores{4.0f, 3.0f, 1.0f};
  // Penalised: 4/2 = 2 falls below 3, and no warper touches the scores.
  EXPECT_EQ(sampler.sample(scores, std::vector<TokenId>{0}), 1);
  EXPECT_EQ(scores, (std::vector<float>{2.0f, 3.0f, 1.0f}));
}

TEST(Sampler, ProcessesInOrderPenaltyTemperatureTopK) {
  SamplingParams p = plain_sampling(1);
  p.repetition_penalty = 2.0f;
  p.temperature = 2.0f;
  p.top_k = 2;
  Sampler sampler(p);
  std::vector<float> scores{4.0f, -2.0f, 1.0f};
  // penalty on {0, 1}: 2, -4, 1; temperature 2: 1, -2, 0.5; top-2 drops -2.
  const TokenId id = sampler.sample(scores, std::vector<TokenId>{0, 1});
  EXPECT_EQ(scores, (std::vector<float>{1.0f, -kInf, 0.5f}));
  EXPECT_NE(id, 1);
}

TEST(Sampler, SameSeedSameTokens) {
  const std::vector<float> logits = logits_of({0.1, 0.2, 0.3, 0.4});
  auto run = [&](std::uint64_t seed) {
    Sampler sampler(plain_sampling(seed));
    std::vector<TokenId> ids;
    for (int i = 0; i < 200; ++i) {
      std::vector<float> scores = logits;
      ids.push_back(sampler.sample(scores, {}));
    }
    return ids;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, FrequenciesMatchProbabilities) {
  const std::vector<double> probs{0.1, 0.2, 0.3, 0.4};
  Sampler sampler(plain_sampling(7));
  const std::vector<double> freq = frequencies(sampler, logits_of(probs), 100000);
  // Standard error of each frequency is at most sqrt(0.25 / 1e5) = 0.0016.
  for (std::size_t i = 0; i < probs.size(); ++i) EXPECT_NEAR(freq[i], probs[i], 0.01) << "token " << i;
}

TEST(Sampler, TemperatureShapesTheDistribution) {
  // Scores 0 and ln 2 at T = 0.5 become 0 and ln 4: probabilities 1/5 and 4/5.
  SamplingParams p = plain_sampling(11);
  p.temperature = 0.5f;
  Sampler sampler(p);
  const std::vector<double> freq = frequencies(sampler, {0.0f, static_cast<float>(std::log(2.0))}, 50000);
  EXPECT_NEAR(freq[0], 0.2, 0.01);
  EXPECT_NEAR(freq[1], 0.8, 0.01);
}

TEST(Sampler, NeverDrawsFilteredOrZeroProbabilityTokens) {
  SamplingParams p = plain_sampling(3);
  p.top_k = 2;
  Sampler sampler(p);
  // Nearly uniform, so the two tokens top-k removes would be drawn often if they leaked.
  const std::vector<double> freq = frequencies(sampler, {1.0f, 0.98f, 1.0f, -kInf, 0.99f}, 20000);
  EXPECT_EQ(freq[1], 0.0);
  EXPECT_EQ(freq[3], 0.0);
  EXPECT_EQ(freq[4], 0.0);
  EXPECT_NEAR(freq[0], 0.5, 0.02);
  EXPECT_NEAR(freq[2], 0.5, 0.02);
}

TEST(Sampler, OverflowingScoresShareTheMass) {
  // A tiny temperature sends 3 / T to +inf and -1 / T to -inf: the +inf tokens tie.
  SamplingParams p = plain_sampling(5);
  p.temperature = 1e-40f;
  Sampler sampler(p);
  const std::vector<double> freq = frequencies(sampler, {-1.0f, 3.0f, 3.0f}, 10000);
  EXPECT_EQ(freq[0], 0.0);
  EXPECT_NEAR(freq[1], 0.5, 0.03);
}

TEST(Sampler, RejectsLogitsWithoutProbabilityMass) {
  Sampler sampler(plain_sampling(0));
  std::vector<float> scores{-kInf, kNaN, -kInf};
  EXPECT_THROW(sampler.sample(scores, {}), Error);
  std::vector<float> empty;
  EXPECT_THROW(sampler.sample(empty, {}), Error);
}

// OpenAI: logit[j] -= count[j] * frequency + (count[j] > 0) * presence; a zero count is untouched.
TEST(FrequencyPresence, SubtractsCountTimesFrequencyPlusPresence) {
  std::vector<float> scores{1.0f, 1.0f, 1.0f, 1.0f};
  const std::vector<std::pair<TokenId, int>> counts{{0, 3}, {2, 1}, {3, 0}};
  apply_frequency_presence(scores, counts, 0.5f, -0.25f);
  EXPECT_EQ(scores, (std::vector<float>{1.0f - 1.5f + 0.25f, 1.0f, 1.0f - 0.5f + 0.25f, 1.0f}));
  const std::vector<std::pair<TokenId, int>> outside{{4, 1}};
  EXPECT_THROW(apply_frequency_presence(scores, outside, 1.0f, 0.0f), Error);
}

TEST(LogitBias, AddsTheBiasAndChecksIds) {
  std::vector<float> scores{0.0f, 2.0f, -1.0f};
  const std::vector<std::pair<TokenId, float>> bias{{0, 100.0f}, {2, -0.5f}};
  apply_logit_bias(scores, bias);
  EXPECT_EQ(scores, (std::vector<float>{100.0f, 2.0f, -1.5f}));
  const std::vector<std::pair<TokenId, float>> outside{{3, 1.0f}};
  EXPECT_THROW(apply_logit_bias(scores, outside), Error);
}

// The penalties count the tokens the Sampler itself drew (the generated ones), not the history
// it is given: a greedy sampler with a strong presence penalty never repeats a token, whatever
// the (empty) history says.
TEST(Sampler, PresencePenaltyCountsDrawnTokens) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.presence_penalty = 2.0f;
  Sampler sampler(p);
  const std::vector<float> logits{3.0f, 2.5f, 2.0f, -5.0f};
  std::vector<TokenId> got;
  for (int i = 0; i < 3; ++i) {
    std::vector<float> scores = logits;
    got.push_back(sampler.sample(scores, std::vector<TokenId>{0, 0, 0}));
  }
  // 0 first; then 0 is at 1.0 < 2.5: 1; then 1 is at 0.5, 0 at 1.0, 2 at 2.0: 2.
  EXPECT_EQ(got, (std::vector<TokenId>{0, 1, 2}));
  p.presence_penalty = 0.0f;
  p.frequency_penalty = 0.4f;  // 3 - 0.4 k stays above 2.5 for k = 1 only: 0, 0, then 1
  Sampler freq(p);
  got.clear();
  for (int i = 0; i < 3; ++i) {
    std::vector<float> scores = logits;
    got.push_back(freq.sample(scores, {}));
  }
  EXPECT_EQ(got, (std::vector<TokenId>{0, 0, 1}));
}

// The additive adjustments come after the HF repetition penalty and before greedy's argmax and
// the warpers: penalty 2 halves 4 to 2, then the bias +1.5 lifts it to 3.5 over 3.
TEST(Sampler, LogitBiasAfterRepetitionPenaltyBeforeGreedyAndWarpers) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.repetition_penalty = 2.0f;
  p.logit_bias = {{0, 1.5f}};
  Sampler greedy(p);
  std::vector<float> scores{4.0f, 3.0f, 1.0f};
  EXPECT_EQ(greedy.sample(scores, std::vector<TokenId>{0}), 0);
  EXPECT_EQ(scores, (std::vector<float>{3.5f, 3.0f, 1.0f}));
  // -100 takes a token out of a sampled distribution; top-k 1 then sees the biased scores.
  SamplingParams s = plain_sampling(5);
  s.top_k = 1;
  s.logit_bias = {{1, -100.0f}};
  Sampler sampler(s);
  const std::vector<double> freq = frequencies(sampler, {0.0f, 9.0f, 1.0f}, 200);
  EXPECT_EQ(freq[2], 1.0);
}

TEST(Validate, RejectsNonFinitePenaltiesAndBiases) {
  SamplingParams f;
  f.frequency_penalty = kNaN;
  expect_rejected(f, "--frequency-penalty");
  SamplingParams pr;
  pr.presence_penalty = kInf;
  expect_rejected(pr, "--presence-penalty");
  SamplingParams b;
  b.logit_bias = {{1, kNaN}};
  expect_rejected(b, "--logit-bias");
  b.logit_bias = {{-1, 1.0f}};
  expect_rejected(b, "--logit-bias");
}

}  // namespace
}  // namespace supra
