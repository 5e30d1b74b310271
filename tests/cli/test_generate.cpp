// `supra generate` end to end on the shipped model (models/stories260K, the default).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "cli_helpers.h"

namespace supra::test::cli {
namespace {

// `generate --mode parallel` re-runs the whole sequence for every token (quadratic by design)
// through many small OpenMP regions; with OpenMP's default spin-waiting it is ~3x slower on 2
// cores, and far slower when the machine is busy. Passive waiting changes no result, only the
// time. Set for the whole binary (the children inherit it) unless the caller chose a policy.
const bool kPassiveOpenMp = [] { return setenv("OMP_WAIT_POLICY", "passive", 0) == 0; }();

std::string greedy_reference() { return read_file(data_dir() / "stories260K" / "greedy_t0_n256.txt"); }

TEST(CliGenerate, GreedyFromBosMatchesReferenceDefaultMode) {
  const CliResult r = run_cli("generate -p '' -n 256 --temperature 0");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, greedy_reference());
  // The timing line goes to stderr, never to stdout.
  EXPECT_NE(r.err.find("new tokens"), std::string::npos) << r.err;
}

TEST(CliGenerate, GreedyFromBosMatchesReferenceInEveryMode) {
  ASSERT_TRUE(kPassiveOpenMp);
  const std::string ref = greedy_reference();
  for (const char* mode : {"recurrent", "parallel", "hybrid"}) {
    const CliResult r = run_cli(std::string("generate -p '' -n 256 --temperature 0 --mode ") + mode);
    ASSERT_EQ(r.exit_code, 0) << mode << "\n" << describe(r);
    EXPECT_EQ(r.out, ref) << "mode " << mode;
  }
}

TEST(CliGenerate, ExplicitModelFolderIsTheDefault) {
  const CliResult r = run_cli("generate -m " + q(stories()) + " -p '' -n 256 --temperature 0");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, greedy_reference());
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
}  // namespace supra::test::cli
