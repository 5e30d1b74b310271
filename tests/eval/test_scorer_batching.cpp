// The Scorer's batching is an optimisation only: documents scored together, in batched steps
// of any size, get the per-choice scores they get one sequence at a time (to float rounding),
// whatever their lengths, on the evalref ground truth and on the golden models (SUPRA and the
// softmax teacher, whose forked states are KV caches).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "evalref.h"
#include "json_lines.h"
#include "supra/eval.h"
#include "supra/model.h"
#include "test_support.h"

namespace supra::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Documents = std::vector<std::vector<EncodedRequest>>;
using Scores = std::vector<std::vector<ChoiceScore>>;

// One document per call through a scorer that runs one sequence per model step.
Scores one_at_a_time(const Model& model, const Documents& documents, int max_length) {
  Scorer scorer(model, max_length, 1);
  Scores scores;
  for (const std::vector<EncodedRequest>& requests : documents) scores.push_back(scorer.score(requests));
  return scores;
}

Scores batched(const Model& model, const Documents& documents, int max_length, int batch_size) {
  Scorer scorer(model, max_length, batch_size);
  return scorer.score_documents(documents);
}

void expect_same_scores(const Scores& got, const Scores& expected, const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (std::size_t d = 0; d < got.size(); ++d) {
    ASSERT_EQ(got[d].size(), expected[d].size()) << what << " doc " << d;
    for (std::size_t k = 0; k < got[d].size(); ++k) {
      const std::string where = what + " doc " + std::to_string(d) + " choice " + std::to_string(k);
      EXPECT_NEAR(got[d][k].loglikelihood, expected[d][k].loglikelihood, 1e-4) << where;
      EXPECT_EQ(got[d][k].is_greedy, expected[d][k].is_greedy) << where;
      EXPECT_EQ(got[d][k].input_len, expected[d][k].input_len) << where;
      EXPECT_EQ(got[d][k].truncated, expected[d][k].truncated) << where;
    }
  }
}

// The first documents of the six ground-truth files interleaved, so that one batch holds
// contexts from ~20 tokens (PIQA) to 2048 (a left-truncated 5-shot MMLU prompt), documents
// with one context and with one per choice (WinoGrande), and 1-token continuations (MMLU).
TEST(ScorerBatching, BatchedEqualsOneAtATimeOnTheGroundTruth) {
  const auto evalref = test::evalref_dir();
  if (!evalref) GTEST_SKIP() << "../shared/fixtures/evalref is absent";
  const fs::path ref = *evalref / "public" / "v0.4.12";
  std::vector<std::vector<json>> files;
  for (const char* file : {"hellaswag", "piqa", "winogrande", "arc_easy", "arc_challenge", "mmlu"})
    files.push_back(test::read_json_lines(ref / (std::string(file) + ".jsonl")));
  std::vector<json> docs;
  for (std::size_t i = 0; i < 7; ++i)
    for (const std::vector<json>& file : files) docs.push_back(file.at(i));
  Documents documents;
  for (const json& doc : docs) documents.push_back(test::requests_of(doc));

  const Scores single = one_at_a_time(test::tiny32k(), documents, 2048);
  for (const int batch_size : {3, 16}) {
    const Scores scores = batched(test::tiny32k(), documents, 2048, batch_size);
    expect_same_scores(scores, single, "batch " + std::to_string(batch_size));
    for (std::size_t d = 0; d < docs.size(); ++d)
      for (std::size_t k = 0; k < scores[d].size(); ++k)
        EXPECT_NEAR(scores[d][k].loglikelihood, docs[d]["requests"][k]["loglikelihood"].get<double>(), 1e-4)
            << "batch " << batch_size << " " << docs[d]["task"] << "#" << docs[d]["doc_id"] << " choice " << k;
  }
}

// Documents shaped like the benchmarks', random ids from a fixed seed: a shared context with
// 1-8 choices (more than a small batch), runs of few-shot prompts sharing a long header, one
// context per choice with a shared prefix, repeated contexts, and left truncation.
Documents synthetic_documents(int vocab, int max_length) {
  std::mt19937 rng(17);
  const auto ids = [&](std::size_t n) {
    std::vector<TokenId> out(n);
    for (TokenId& id : out) id = static_cast<TokenId>(rng() % static_cast<unsigned>(vocab));
    return out;
  };
  const auto join = [](std::vector<TokenId> a, const std::vector<TokenId>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  Documents documents;
  const std::vector<TokenId> header = ids(120);
  for (int d = 0; d < 14; ++d) {
    std::vector<EncodedRequest> requests;
    switch (d % 4) {
      case 0: {  // one context, choices of several lengths
        const std::vector<TokenId> context = ids(3 + rng() % 90);
        for (std::size_t k = 0, n = 1 + rng() % 8; k < n; ++k) requests.push_back({context, ids(1 + rng() % 9)});
        break;
      }
      case 1:  // a few-shot prompt: the shared header, a question, 1-token answers
      case 2: {
        const std::vector<TokenId> context = join(header, ids(5 + rng() % 30));
        for (int k = 0; k < 4; ++k) requests.push_back({context, ids(1)});
        break;
      }
      case 3: {  // a context per choice after a shared prefix, one continuation
        const std::vector<TokenId> prefix = ids(20 + rng() % 20), continuation = ids(2 + rng() % 6);
        for (int k = 0; k < 2; ++k) requests.push_back({join(prefix, ids(1 + rng() % 4)), continuation});
        break;
      }
    }
    documents.push_back(std::move(requests));
  }
  // The same context in consecutive documents, then extended, then again: contexts that are
  // their shared header, in the group that reads it and in the next one.
  const std::vector<TokenId> repeated = ids(60);
  documents.push_back({{repeated, ids(3)}, {repeated, ids(1)}, {repeated, ids(4)}});
  documents.push_back({{repeated, ids(2)}, {repeated, ids(6)}});
  documents.push_back({{join(repeated, ids(10)), ids(3)}, {join(repeated, ids(10)), ids(1)}});
  documents.push_back({{repeated, ids(5)}});
  documents.push_back({{ids(static_cast<std::size_t>(max_length) + 40), ids(5)}});  // left-truncated
  return documents;
}

// lm-eval's definition read literally, with no state reused: the whole truncated input from
// a fresh state in one forward call, the continuation's log-softmax terms summed.
Scores from_scratch(const Model& model, const Documents& documents, int max_length) {
  Scores scores;
  for (const std::vector<EncodedRequest>& requests : documents) {
    std::vector<ChoiceScore>& out = scores.emplace_back();
    for (const EncodedRequest& r : requests) {
      std::vector<TokenId> input = r.context;
      input.insert(input.end(), r.continuation.begin(), r.continuation.end());
      const std::size_t cut = input.size() - std::min(input.size(), static_cast<std::size_t>(max_length) + 1);
      input.erase(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(cut));
      input.pop_back();
      State state = model.new_state();
      const std::vector<float> logits = model.forward(input, state, Mode::Parallel, LogitsWanted::All);
      const std::size_t vocab = logits.size() / input.size();
      ChoiceScore score{0, true, static_cast<std::int64_t>(input.size()), static_cast<std::int64_t>(cut)};
      for (std::size_t j = 0; j < r.continuation.size(); ++j) {
        const float* row = logits.data() + (input.size() - r.continuation.size() + j) * vocab;
        const float* max = std::max_element(row, row + vocab);
        double sum = 0;
        for (std::size_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - *max);
        score.loglikelihood += static_cast<double>(row[r.continuation[j]]) - *max - std::log(sum);
        score.is_greedy = score.is_greedy && max - row == r.continuation[j];
      }
      out.push_back(score);
    }
  }
  return scores;
}

class ScorerBatchingGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ScorerBatchingGolden, EveryBatchSizeEqualsScoringFromScratch) {
  const Model model = Model::load(test::data_dir() / "golden" / GetParam());
  constexpr int kMaxLength = 160;
  const Documents documents = synthetic_documents(model.config().vocab_size, kMaxLength);
  const Scores expected = from_scratch(model, documents, kMaxLength);
  EXPECT_GT(expected.back()[0].truncated, 0);
  expect_same_scores(one_at_a_time(model, documents, kMaxLength), expected, GetParam() + " one at a time");
  for (const int batch_size : {2, 5, 16}) {
    const Scores scores = batched(model, documents, kMaxLength, batch_size);
    expect_same_scores(scores, expected, GetParam() + " batch " + std::to_string(batch_size));
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ScorerBatchingGolden, ::testing::Values("supra_gqa", "mistral_softmax"),
                         [](const ::testing::TestParamInfo<std::string>& model) { return model.param; });

}  // namespace
}  // namespace supra::eval
