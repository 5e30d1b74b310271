// Scorer against lm-evaluation-harness ground truth (shared fixtures/evalref): the reference's
// token ids go in, so this tests the scoring alone (truncation, log-softmax, is_greedy, the
// state reuse across choices and documents) and the metrics on top, independently of the
// document loaders.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "supra/eval_metrics.h"
#include "supra/error.h"
#include "supra/eval.h"
#include "evalref.h"
#include "json_lines.h"

namespace supra::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kGroundTruthFiles = {"hellaswag", "piqa", "winogrande",
                                                    "arc_easy", "arc_challenge", "mmlu"};

using test::evalref_dir;
using test::requests_of;
using test::tiny32k;

class GroundTruth : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!evalref_dir()) GTEST_SKIP() << "../shared/fixtures/evalref is absent";
  }
};

// Every document of every task, in file order through ONE scorer at the default batch size
// (so its cached header carries across groups and tasks as in a real run): per-choice values,
// decisions, and the summary.
TEST_P(GroundTruth, EveryChoiceMatchesTheReference) {
  const fs::path ref = *evalref_dir() / "public" / GetParam();
  const json summary = json::parse(std::ifstream(ref / "summary.json"));
  Scorer scorer(tiny32k());
  const auto start = std::chrono::steady_clock::now();
  std::int64_t naive_tokens = 0;
  for (const std::string& file : kGroundTruthFiles) {
    double max_delta = 0;
    std::vector<double> acc, acc_norm;
    std::map<std::string, std::vector<double>> acc_by_task;  // MMLU: per subject
    const std::vector<json> docs = test::read_json_lines(ref / (file + ".jsonl"));
    std::vector<std::vector<EncodedRequest>> all_requests;
    for (const json& doc : docs) all_requests.push_back(requests_of(doc));
    const std::vector<std::vector<ChoiceScore>> all_scores = scorer.score_documents(all_requests);
    ASSERT_EQ(all_scores.size(), docs.size()) << file;
    for (std::size_t i = 0; i < docs.size(); ++i) {
      const json& doc = docs[i];
      const std::string where = file + " doc " + doc["task"].get<std::string>() + "#" +
                                std::to_string(doc["doc_id"].get<int>());
      const std::vector<EncodedRequest>& requests = all_requests[i];
      const std::vector<ChoiceScore>& scores = all_scores[i];
      ASSERT_EQ(scores.size(), requests.size()) << where;
      std::vector<double> lls;
      for (std::size_t k = 0; k < scores.size(); ++k) {
        const json& r = doc["requests"][k];
        const double delta = std::fabs(scores[k].loglikelihood - r["loglikelihood"].get<double>());
        max_delta = std::max(max_delta, delta);
        EXPECT_LE(delta, 1e-4) << where << " choice " << k;
        EXPECT_EQ(scores[k].is_greedy, r["is_greedy"].get<bool>()) << where << " choice " << k;
        EXPECT_EQ(scores[k].input_len, r["input_len"].get<std::int64_t>()) << where << " choice " << k;
        EXPECT_EQ(scores[k].truncated, r["truncated"].get<std::int64_t>()) << where << " choice " << k;
        lls.push_back(scores[k].loglikelihood);
        naive_tokens += scores[k].input_len;
      }
      const bool with_norm = doc.contains("acc_norm");
      const Decision d = decide(lls, doc["choices"].get<std::vector<std::string>>(), doc["gold"].get<int>(), with_norm);
      EXPECT_EQ(d.pred, doc["pred"].get<std::size_t>()) << where;
      EXPECT_EQ(d.acc, doc["acc"].get<double>() == 1.0) << where;
      if (with_norm) {
        EXPECT_EQ(*d.pred_norm, doc["pred_norm"].get<std::size_t>()) << where;
        EXPECT_EQ(*d.acc_norm, doc["acc_norm"].get<double>() == 1.0) << where;
        acc_norm.push_back(*d.acc_norm ? 1.0 : 0.0);
      }
      acc.push_back(d.acc ? 1.0 : 0.0);
      acc_by_task[doc["task"].get<std::string>()].push_back(d.acc ? 1.0 : 0.0);
    }
    std::cout << "[ scores   ] " << GetParam() << " " << file << ": max |dLL| " << max_delta << "\n";

    const json& expected = summary["tasks"][file];
    if (file == "mmlu") {
      std::vector<Estimate> subjects;
      for (const auto& [task, values] : acc_by_task) {
        subjects.push_back(mean_estimate(values));
        const json& s = expected["subjects"][task];
        EXPECT_NEAR(subjects.back().value, s["acc"].get<double>(), 1e-12) << task;
        EXPECT_NEAR(*subjects.back().std_error, s["acc_stderr"].get<double>(), 1e-12) << task;
      }
      const Estimate group = pooled_estimate(subjects);
      EXPECT_EQ(group.n, expected["n"].get<std::int64_t>());
      EXPECT_NEAR(group.value, expected["acc"].get<double>(), 1e-12);
      EXPECT_NEAR(*group.std_error, expected["acc_stderr"].get<double>(), 1e-12);
    } else {
      const Estimate a = mean_estimate(acc);
      EXPECT_NEAR(a.value, expected["acc"].get<double>(), 1e-12) << file;
      EXPECT_NEAR(*a.std_error, expected["acc_stderr"].get<double>(), 1e-12) << file;
      if (expected.contains("acc_norm")) {
        const Estimate n = mean_estimate(acc_norm);
        EXPECT_NEAR(n.value, expected["acc_norm"].get<double>(), 1e-12) << file;
        EXPECT_NEAR(*n.std_error, expected["acc_norm_stderr"].get<double>(), 1e-12) << file;
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ scores   ] " << GetParam() << ": " << scorer.tokens_processed() << " tokens read for "
            << naive_tokens << " request tokens, " << seconds << " s\n";
  // The reuse must be real: shared contexts and few-shot headers are read once.
  EXPECT_LT(scorer.tokens_processed(), naive_tokens / 2);
}

std::string profile_test_name(const ::testing::TestParamInfo<std::string>& profile) {
  std::string name = profile.param;
  for (char& c : name)
    if (c == '.') c = '_';
  return name;
}
INSTANTIATE_TEST_SUITE_P(Profiles, GroundTruth, ::testing::Values("v0.4.2", "v0.4.12"), profile_test_name);

class ScorerRules : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!evalref_dir()) GTEST_SKIP() << "../shared/fixtures/evalref is absent";
  }
};

// The cached states are an optimisation only: the order of documents changes nothing.
TEST_F(ScorerRules, OrderOfDocumentsDoesNotMatter) {
  const std::vector<json> docs = test::read_json_lines(*evalref_dir() / "public" / "v0.4.12" / "arc_challenge.jsonl");
  Scorer forward(tiny32k());
  Scorer backward(tiny32k());
  std::vector<std::vector<ChoiceScore>> in_order;
  for (const json& doc : docs) in_order.push_back(forward.score(requests_of(doc)));
  for (std::size_t i = docs.size(); i-- > 0;) {
    const std::vector<ChoiceScore> scores = backward.score(requests_of(docs[i]));
    for (std::size_t k = 0; k < scores.size(); ++k)
      EXPECT_NEAR(scores[k].loglikelihood, in_order[i][k].loglikelihood, 1e-5) << "doc " << i << " choice " << k;
  }
}

// Left truncation with a small window equals scoring the truncated input from scratch.
TEST_F(ScorerRules, TruncationKeepsTheLastTokens) {
  const EncodedRequest request{{1, 415, 2936, 9060, 285, 1142, 28705, 10575, 754, 272}, {17898, 3914, 28723}};
  Scorer small(tiny32k(), 8);
  const ChoiceScore cut = small.score({request})[0];
  EXPECT_EQ(cut.truncated, 4);  // 13 tokens -> the last 9 -> input of 8
  EXPECT_EQ(cut.input_len, 8);
  Scorer wide(tiny32k());
  const EncodedRequest kept{{285, 1142, 28705, 10575, 754, 272}, {17898, 3914, 28723}};
  const ChoiceScore direct = wide.score({kept})[0];
  EXPECT_EQ(direct.truncated, 0);
  EXPECT_NEAR(cut.loglikelihood, direct.loglikelihood, 1e-9);
}

TEST_F(ScorerRules, UnscorableRequestsAreErrors) {
  Scorer scorer(tiny32k(), 4);
  EXPECT_THROW(scorer.score({{{1, 2}, {}}}), Error);                  // nothing to score
  EXPECT_THROW(scorer.score({{{}, {5, 6}}}), Error);                  // nothing to predict from
  EXPECT_THROW(scorer.score({{{1, 2}, {5, 6, 7, 8, 9}}}), Error);     // continuation fills the window
  EXPECT_THROW(scorer.score({{{1, 32000}, {5}}}), Error);             // id outside the vocabulary
  EXPECT_THROW(scorer.score({{{1, 2}, {-1}}}), Error);
  EXPECT_THROW(Scorer(tiny32k(), 0), Error);
  EXPECT_THROW(Scorer(tiny32k(), 2048, 0), Error);
  // A document without choices has no scores (and breaks nothing for the others).
  const std::vector<std::vector<ChoiceScore>> none = scorer.score_documents({{}, {{{1, 2}, {5}}}, {}});
  ASSERT_EQ(none.size(), 3u);
  EXPECT_TRUE(none[0].empty());
  EXPECT_EQ(none[1].size(), 1u);
  EXPECT_TRUE(none[2].empty());
  EXPECT_TRUE(scorer.score({}).empty());
}

}  // namespace
}  // namespace supra::eval
