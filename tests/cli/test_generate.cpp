// `supra generate` end to end: on the teacher stories260K (Karpathy's published output) and on
// the default model, stories260K-supra (its up-trained SUPRA linearisation).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "cli_helpers.h"

namespace supra::test::cli {
namespace {

std::string greedy_reference() { return read_file(data_dir() / "stories260K" / "greedy_t0_n256.txt"); }

inline fs::path default_model() { return stories().parent_path() / "stories260K-supra"; }

TEST(CliGenerate, GreedyFromBosMatchesReferenceDefaultMode) {
  const CliResult r = run_cli("generate -m " + q(stories()) + " -p '' -n 256 --temperature 0");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, greedy_reference());
  // The timing line goes to stderr, never to stdout.
  EXPECT_NE(r.err.find("new tokens"), std::string::npos) << r.err;
}

TEST(CliGenerate, GreedyFromBosMatchesReferenceInEveryMode) {
  const std::string ref = greedy_reference();
  for (const char* mode : {"recurrent", "parallel", "hybrid"}) {
    const CliResult r = run_cli("generate -m " + q(stories()) + " -p '' -n 256 --temperature 0 --mode " + mode);
    ASSERT_EQ(r.exit_code, 0) << mode << "\n" << describe(r);
    EXPECT_EQ(r.out, ref) << "mode " << mode;
  }
}

// The default model is the up-trained SUPRA model; its three modes write the same story.
TEST(CliGenerate, DefaultModelIsTheSupraModelAndAgreesInEveryMode) {
  const std::string args = " -p 'Once upon a time' -n 200 --temperature 0";
  const CliResult implicit = run_cli("generate" + args);
  ASSERT_EQ(implicit.exit_code, 0) << describe(implicit);
  const CliResult explicit_folder = run_cli("generate -m " + q(default_model()) + args);
  EXPECT_EQ(implicit.out, explicit_folder.out);
  EXPECT_GT(implicit.out.size(), 300u) << implicit.out;  // a story, not an immediate EOS
  for (const char* mode : {"recurrent", "parallel", "hybrid"}) {
    const CliResult r = run_cli("generate" + args + " --mode " + mode);
    ASSERT_EQ(r.exit_code, 0) << mode << "\n" << describe(r);
    EXPECT_EQ(r.out, implicit.out) << "mode " << mode;
  }
}

TEST(CliGenerate, PromptIsEchoedThenContinued) {
  const CliResult r = run_cli("generate -p 'Once upon a time' -n 20 --temperature 0");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;
  EXPECT_GT(r.out.size(), std::string("Once upon a time\n").size()) << r.out;
  EXPECT_EQ(r.out.back(), '\n');
}

TEST(CliGenerate, ZeroNewTokensPrintsThePromptOnly) {
  const CliResult r = run_cli("generate -p 'Once upon a time' -n 0 --temperature 0");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "Once upon a time\n");
}

TEST(CliGenerate, SamplingIsReproducibleWithTheSameSeed) {
  const std::string args = "generate -p 'Once upon a time' -n 48 --temperature 1.0 --top-p 0.9 --seed 133742";
  const CliResult a = run_cli(args);
  const CliResult b = run_cli(args);
  ASSERT_EQ(a.exit_code, 0) << describe(a);
  ASSERT_EQ(b.exit_code, 0) << describe(b);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.out.rfind("Once upon a time", 0), 0u) << a.out;

  // Other seeds give other continuations (48 tokens at temperature 1: equal text for all
  // three would be astronomically unlikely).
  const CliResult c = run_cli("generate -p 'Once upon a time' -n 48 --temperature 1.0 --top-p 0.9 --seed 1");
  const CliResult d = run_cli("generate -p 'Once upon a time' -n 48 --temperature 1.0 --top-p 0.9 --seed 2");
  ASSERT_EQ(c.exit_code, 0) << describe(c);
  ASSERT_EQ(d.exit_code, 0) << describe(d);
  EXPECT_FALSE(a.out == c.out && c.out == d.out) << a.out;
}

TEST(CliGenerate, SamplingIsTheSameInEveryMode) {
  const std::string args = "generate -p 'Once upon a time' -n 32 --temperature 0.8 --seed 7 --mode ";
  const CliResult h = run_cli(args + "hybrid");
  const CliResult p = run_cli(args + "parallel");
  const CliResult r = run_cli(args + "recurrent");
  ASSERT_EQ(h.exit_code, 0) << describe(h);
  ASSERT_EQ(p.exit_code, 0) << describe(p);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(h.out, p.out);
  EXPECT_EQ(h.out, r.out);
}

TEST(CliGenerate, AllSamplingKnobsTogetherRun) {
  const CliResult r = run_cli(
      "generate -p 'Once upon a time' -n 40 --temperature 0.8 --top-p 0.9 --top-k 40 "
      "--repetition-penalty 1.1 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;
  EXPECT_GT(r.out.size(), std::string("Once upon a time\n").size());
}

TEST(CliGenerate, GreedyIgnoresTopKAndTopPWithANote) {
  const CliResult plain = run_cli("generate -p 'Once upon a time' -n 20 --temperature 0");
  const CliResult knobs = run_cli("generate -p 'Once upon a time' -n 20 --temperature 0 --top-k 5 --top-p 0.5");
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  ASSERT_EQ(knobs.exit_code, 0) << describe(knobs);
  EXPECT_EQ(plain.out, knobs.out);
  EXPECT_NE(knobs.err.find("note: "), std::string::npos) << knobs.err;
}

}  // namespace
// --prompt-cache: the second run reuses the first prompt's state, the output is unchanged.
TEST(CliGenerate, PromptCacheReusesTheStateAndKeepsTheOutput) {
  TempDir dir;
  const fs::path cache = dir.path() / "prompt.state";
  const std::string args = "generate -p 'Once upon a time, there was a little girl' -n 16 --temperature 0";
  const CliResult plain = run_cli(args);
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  const CliResult first = run_cli(args + " --prompt-cache " + q(cache));
  ASSERT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_NE(first.err.find("0 of 13 prompt tokens reused"), std::string::npos) << first.err;
  const CliResult second = run_cli(args + " --prompt-cache " + q(cache));
  ASSERT_EQ(second.exit_code, 0) << describe(second);
  EXPECT_NE(second.err.find("12 of 13 prompt tokens reused"), std::string::npos) << second.err;
  EXPECT_EQ(first.out, plain.out);
  EXPECT_EQ(second.out, plain.out);
}

TEST(CliGenerate, PromptCacheOfAnotherModelOrCorruptIsAnError) {
  TempDir dir;
  const fs::path cache = dir.path() / "prompt.state";
  ASSERT_EQ(run_cli("generate -p 'Once' -n 1 --prompt-cache " + q(cache)).exit_code, 0);
  const std::string saved = read_file(cache);
  // Another architecture with the same tokenizer (and vocabulary size).
  const fs::path other_model = dir.path() / "other";
  fs::create_directory(other_model);
  for (const auto& e : fs::directory_iterator(golden("supra_gqa"))) fs::copy(e.path(), other_model / e.path().filename());
  fs::copy(stories() / "tokenizer.model", other_model / "tokenizer.model");
  const CliResult other = run_cli("generate -m " + q(other_model) + " -p 'Once' -n 1 --prompt-cache " + q(cache));
  EXPECT_EQ(other.exit_code, 1) << describe(other);
  EXPECT_NE(other.err.find("error: --prompt-cache " + cache.string()), std::string::npos) << other.err;
  write_file(cache, saved.substr(0, saved.size() / 2));
  const CliResult cut = run_cli("generate -p 'Once' -n 1 --prompt-cache " + q(cache));
  EXPECT_EQ(cut.exit_code, 1) << describe(cut);
  EXPECT_EQ(read_file(cache), saved.substr(0, saved.size() / 2));  // a bad cache is reported, not overwritten
  const CliResult parallel = run_cli("generate -p 'Once' -n 1 --mode parallel --prompt-cache " + q(cache));
  EXPECT_EQ(parallel.exit_code, 1) << describe(parallel);
}

}  // namespace supra::test::cli
