// `supra eval` and `supra perplexity` end to end: the data loaders, encoding, scoring and
// reports together on the shared eval assets and the evalref model, output files, and the
// error contract for bad flags.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "../cli/cli_helpers.h"
#include "json_lines.h"
#include "supra/model.h"
#include "supra/tokenizer.h"

namespace supra::test::cli {
namespace {

using nlohmann::json;

struct EvalAssets {
  fs::path model;
  fs::path data;
  fs::path reference;  // evalref/public
};

std::optional<EvalAssets> eval_assets() {
  const auto shared = shared_dir();
  if (!shared) return std::nullopt;
  EvalAssets a{*shared / "fixtures" / "evalref" / "tiny32k", *shared / "assets" / "eval",
               *shared / "fixtures" / "evalref" / "public"};
  if (!fs::exists(a.model / "model.safetensors") || !fs::is_directory(a.data)) return std::nullopt;
  return a;
}

class CliEval : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto a = eval_assets();
    if (!a) GTEST_SKIP() << "../shared/assets/eval or fixtures/evalref is absent";
    assets = *a;
  }
  std::string base() const { return "eval -m " + q(assets.model) + " --data-dir " + q(assets.data); }
  EvalAssets assets;
};

TEST_F(CliEval, WritesTableResultsAndSamples) {
  TempDir tmp;
  const CliResult r = run_cli(base() + " --tasks arc_easy,mmlu --limit 3 --log-samples " +
                              q(tmp.path() / "out.jsonl") + " --output " + q(tmp.path() / "res.json"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find(" Tasks "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|Version|Filter|n-shot| Metric |   |Value |   |Stderr|"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|Stderr|"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|arc_easy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| - abstract_algebra"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("items/s"), std::string::npos) << r.err;

  const json res = json::parse(read_file(tmp.path() / "res.json"));
  EXPECT_EQ(res["n-samples"]["arc_easy"]["effective"], 3);
  EXPECT_GT(res["n-samples"]["arc_easy"]["original"].get<int>(), 2000);
  EXPECT_EQ(res["config"]["profile"], "v0.4.2");
  EXPECT_EQ(res["config"]["batch_size"], 16);
  EXPECT_EQ(res["supra"]["documents"], 3 + 3 * 57);
  EXPECT_GT(res["supra"]["items_per_second"].get<double>(), 0);
  const json& arc = res["results"]["arc_easy"];
  for (const char* key : {"acc,none", "acc_stderr,none", "acc_norm,none", "acc_norm_stderr,none"})
    EXPECT_TRUE(arc.contains(key)) << key;
  ASSERT_TRUE(res["groups"].contains("mmlu"));
  const std::size_t subjects = res["group_subtasks"]["mmlu"].size();
  EXPECT_EQ(subjects, 57u);
  EXPECT_EQ(res["groups"]["mmlu"]["alias"], "mmlu");
  EXPECT_FALSE(res["results"]["mmlu"].contains("acc_norm,none"));
  EXPECT_EQ(res["n-shot"]["mmlu_anatomy"], 5);

  const std::vector<json> samples = test::read_json_lines(tmp.path() / "out.jsonl");
  EXPECT_EQ(samples.size(), 3 + 3 * subjects);
  std::int64_t mmlu_right = 0;
  for (const json& s : samples) {
    const std::size_t choices = s["loglikelihoods"].size();
    EXPECT_GE(choices, 2u);
    EXPECT_EQ(s["is_greedy"].size(), choices);
    EXPECT_EQ(s["context_ids"].size(), choices);
    EXPECT_EQ(s["continuation_ids"].size(), choices);
    for (const json& ll : s["loglikelihoods"]) EXPECT_TRUE(std::isfinite(ll.get<double>()));
    if (s["task"].get<std::string>().starts_with("mmlu_")) mmlu_right += s["acc"].get<double>() == 1.0;
  }
  // The group is the micro average over every MMLU document scored.
  EXPECT_NEAR(res["results"]["mmlu"]["acc,none"].get<double>(),
              static_cast<double>(mmlu_right) / static_cast<double>(3 * subjects), 1e-12);
}

TEST_F(CliEval, DocIdsSelectDocuments) {
  TempDir tmp;
  const CliResult r = run_cli(base() + " --tasks arc_easy,mmlu_anatomy --doc-ids arc_easy=0,1 --doc-ids mmlu_anatomy=4"
                              " --log-samples " + q(tmp.path() / "out.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::set<std::pair<std::string, int>> got;
  for (const json& s : test::read_json_lines(tmp.path() / "out.jsonl")) got.insert({s["task"].get<std::string>(), s["doc_id"].get<int>()});
  const std::set<std::pair<std::string, int>> expected = {{"arc_easy", 0}, {"arc_easy", 1}, {"mmlu_anatomy", 4}};
  EXPECT_EQ(got, expected);
}

// The whole pipeline (loaders, encode_pair, scorer) on every ground-truth document, both profiles.
TEST_F(CliEval, AgreesWithTheGroundTruth) {
  for (const std::string profile : {"v0.4.2", "v0.4.12"}) {
    std::map<std::string, std::set<int>> wanted;
    std::map<std::pair<std::string, int>, json> reference;
    for (const char* file : {"hellaswag", "piqa", "winogrande", "arc_easy", "arc_challenge", "mmlu"})
      for (const json& doc : test::read_json_lines(assets.reference / profile / (std::string(file) + ".jsonl"))) {
        wanted[doc["task"].get<std::string>()].insert(doc["doc_id"].get<int>());
        reference[{doc["task"].get<std::string>(), doc["doc_id"].get<int>()}] = doc;
      }
    std::string tasks, doc_ids;
    for (const auto& [task, ids] : wanted) {
      if (!task.starts_with("mmlu_")) tasks += (tasks.empty() ? "" : ",") + task;
      std::string list;
      for (const int id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
      doc_ids += " --doc-ids " + task + "=" + list;
    }
    for (const auto& [task, ids] : wanted)
      if (task.starts_with("mmlu_")) tasks += "," + task;
    TempDir tmp;
    const CliResult r = run_cli(base() + " --profile " + profile + " --tasks " + tasks + doc_ids +
                                " --log-samples " + q(tmp.path() / "out.jsonl"));
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    const std::vector<json> samples = test::read_json_lines(tmp.path() / "out.jsonl");
    EXPECT_EQ(samples.size(), reference.size()) << profile;
    double max_delta = 0;
    for (const json& s : samples) {
      const json& ref = reference.at({s["task"].get<std::string>(), s["doc_id"].get<int>()});
      const std::string where = profile + " " + s["task"].get<std::string>() + "#" + std::to_string(s["doc_id"].get<int>());
      ASSERT_EQ(s["loglikelihoods"].size(), ref["requests"].size()) << where;
      for (std::size_t k = 0; k < ref["requests"].size(); ++k) {
        const json& req = ref["requests"][k];
        EXPECT_EQ(s["context_ids"][k], req["context_ids"]) << where << " choice " << k;
        EXPECT_EQ(s["continuation_ids"][k], req["continuation_ids"]) << where << " choice " << k;
        const double delta = std::fabs(s["loglikelihoods"][k].get<double>() - req["loglikelihood"].get<double>());
        max_delta = std::max(max_delta, delta);
        EXPECT_LE(delta, 1e-4) << where << " choice " << k;
      }
      EXPECT_EQ(s["acc"], ref["acc"]) << where;
    }
    std::cout << "[ pipeline ] " << profile << ": " << samples.size() << " documents, max |dLL| " << max_delta << "\n";
  }
}

// Batching changes the speed, not the scores: one sequence per step and small batches that
// split documents' choices and few-shot subjects give the same samples.
TEST_F(CliEval, BatchSizeDoesNotChangeScores) {
  TempDir tmp;
  std::vector<std::vector<json>> runs;
  for (const char* batch_size : {"1", "3", "16"}) {
    const fs::path out = tmp.path() / (std::string("b") + batch_size + ".jsonl");
    const CliResult r = run_cli(base() + " --tasks winogrande,arc_challenge,mmlu_anatomy,mmlu_astronomy --limit 5" +
                                " --batch-size " + batch_size + " --log-samples " + q(out));
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    runs.push_back(test::read_json_lines(out));
  }
  for (std::size_t run = 1; run < runs.size(); ++run) {
    ASSERT_EQ(runs[run].size(), runs[0].size());
    for (std::size_t d = 0; d < runs[0].size(); ++d) {
      const json& got = runs[run][d];
      const json& expected = runs[0][d];
      EXPECT_EQ(got["task"], expected["task"]);
      EXPECT_EQ(got["doc_id"], expected["doc_id"]);
      ASSERT_EQ(got["loglikelihoods"].size(), expected["loglikelihoods"].size());
      for (std::size_t k = 0; k < got["loglikelihoods"].size(); ++k)
        EXPECT_NEAR(got["loglikelihoods"][k].get<double>(), expected["loglikelihoods"][k].get<double>(), 1e-4)
            << got["task"] << "#" << got["doc_id"] << " choice " << k;
      EXPECT_EQ(got["acc"], expected["acc"]);
    }
  }
}

TEST_F(CliEval, BadFlagsAreErrors) {
  expect_error(run_cli(base() + " --tasks arc_easy,lambada"), "lambada");
  expect_error(run_cli(base() + " --tasks arc_easy --profile v0.3"), "--profile");
  expect_error(run_cli(base() + " --tasks arc_easy --doc-ids arc_easy"), "--doc-ids");
  expect_error(run_cli(base() + " --tasks arc_easy --doc-ids arc_easy=1,x"), "--doc-ids");
  expect_error(run_cli(base() + " --tasks arc_easy --doc-ids piqa=1"), "piqa");
  expect_error(run_cli(base() + " --tasks arc_easy --doc-ids arc_easy=99999"), "99999");
  expect_error(run_cli(base() + " --tasks arc_easy --limit 0"), "--limit");
  expect_error(run_cli(base() + " --tasks arc_easy --batch-size 0"), "--batch-size");
  expect_error(run_cli(base() + " --tasks arc_easy --batch-size 1025"), "--batch-size");
  expect_error(run_cli(base() + " --tasks arc_easy --batch-size x"), "--batch-size");
  expect_error(run_cli("eval -m " + q(assets.model) + " --data-dir /no/such/eval_data --tasks arc_easy"),
               "/no/such/eval_data");
  expect_error(run_cli(base() + " --tasks arc_easy --output /no/such/dir/res.json"), "/no/such/dir");
}

// --- perplexity ---

const std::string kStory =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. "
    "One day, she saw a big red ball in the park. She ran to get it, but a dog got there first. "
    "The dog and Lily played with the ball all day, and they became best friends.";

json perplexity_json(const fs::path& text, const std::string& flags) {
  const CliResult r = run_cli("perplexity -m " + q(stories()) + " -f " + q(text) + " --json " + flags);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  return r.exit_code == 0 ? json::parse(r.out) : json();
}

TEST(CliPerplexity, BothValuesAreFinite) {
  TempDir tmp;
  std::string text;
  for (int i = 0; i < 6; ++i) text += kStory + "\n";
  write_file(tmp.path() / "story.txt", text);
  const json out = perplexity_json(tmp.path() / "story.txt", "--ctx 64 --chunk 50");
  ASSERT_FALSE(out.is_null());
  const std::int64_t tokens = out["tokens"];
  EXPECT_EQ(out["windowed"]["windows"], tokens / 64);
  EXPECT_EQ(out["windowed"]["scored_tokens"], (tokens / 64) * 31);  // 64 - 1 - 32 per window
  EXPECT_EQ(out["windowed"]["running"].size(), static_cast<std::size_t>(tokens / 64));
  EXPECT_EQ(out["streamed"]["scored_tokens"], tokens - 1);
  for (const double ppl : {out["windowed"]["perplexity"].get<double>(), out["streamed"]["perplexity"].get<double>()}) {
    EXPECT_TRUE(std::isfinite(ppl));
    EXPECT_GT(ppl, 1.0);
  }
  // The streamed value does not depend on how the text is cut into forward calls.
  const json other = perplexity_json(tmp.path() / "story.txt", "--ctx 64 --chunk 7");
  EXPECT_NEAR(other["streamed"]["perplexity"].get<double>(), out["streamed"]["perplexity"].get<double>(), 1e-3);
  const CliResult plain = run_cli("perplexity -m " + q(stories()) + " -f " + q(tmp.path() / "story.txt") + " -c 64");
  EXPECT_EQ(plain.exit_code, 0) << describe(plain);
  EXPECT_NE(plain.out.find("windowed PPL = "), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("streamed PPL = "), std::string::npos) << plain.out;
}

// Two windows of half the text each: each read from a fresh state with BOS first, its second
// half scored. Computed here directly from the model's logits.
TEST(CliPerplexity, TwoWindowsMatchADirectComputation) {
  TempDir tmp;
  write_file(tmp.path() / "story.txt", kStory);
  const Tokenizer tokenizer = Tokenizer::load_folder(stories());
  const Model model = Model::load(stories());
  const std::vector<TokenId> ids = tokenizer.encode(kStory, true);
  ASSERT_EQ(ids[0], tokenizer.bos_id());
  const std::size_t context = ids.size() / 2;
  const json out = perplexity_json(tmp.path() / "story.txt", "--ctx " + std::to_string(context));
  ASSERT_FALSE(out.is_null());
  ASSERT_EQ(out["tokens"], ids.size());

  double nll = 0;
  std::size_t scored = 0;
  for (std::size_t w = 0; w < 2; ++w) {
    std::vector<TokenId> window(ids.begin() + static_cast<std::ptrdiff_t>(w * context),
                                ids.begin() + static_cast<std::ptrdiff_t>((w + 1) * context));
    window[0] = tokenizer.bos_id();
    State state = model.new_state();
    const std::vector<float> logits = model.forward(window, state, Mode::Recurrent, LogitsWanted::All);
    const std::size_t vocab = logits.size() / window.size();
    for (std::size_t i = context / 2; i + 1 < context; ++i, ++scored) {
      const float* row = logits.data() + i * vocab;
      double max = row[0], sum = 0;
      for (std::size_t v = 0; v < vocab; ++v) max = std::max(max, static_cast<double>(row[v]));
      for (std::size_t v = 0; v < vocab; ++v) sum += std::exp(row[v] - max);
      nll += max + std::log(sum) - row[window[i + 1]];
    }
  }
  EXPECT_EQ(out["windowed"]["windows"], 2);
  EXPECT_EQ(out["windowed"]["scored_tokens"], scored);
  EXPECT_NEAR(out["windowed"]["perplexity"].get<double>(), std::exp(nll / static_cast<double>(scored)), 1e-3);
}

TEST(CliPerplexity, BadInputIsAnError) {
  TempDir tmp;
  expect_error(run_cli("perplexity -m " + q(stories()) + " -f " + q(tmp.path() / "missing.txt")), "missing.txt");
  // Shorter than two windows: refused as llama.cpp refuses it, naming the tokens needed.
  write_file(tmp.path() / "tiny.txt", "a");
  expect_error(run_cli("perplexity -m " + q(stories()) + " -f " + q(tmp.path() / "tiny.txt")), "at least 1024 tokens");
  write_file(tmp.path() / "story.txt", kStory);
  expect_error(run_cli("perplexity -m " + q(stories()) + " -f " + q(tmp.path() / "story.txt") + " -c 64"),
               "at least 128 tokens");
  expect_error(run_cli("perplexity -m " + q(stories()) + " -f " + q(tmp.path() / "story.txt") + " --ctx 1"), "--ctx");
}

}  // namespace
}  // namespace supra::test::cli
