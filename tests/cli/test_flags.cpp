// The flags a llama.cpp or HF user expects: the error contract for every flag mistake, llama.cpp's
// names as aliases (identical output to the long names), -t/--threads on every compute
// subcommand, prompts from -f FILE or stdin, --stop, --min-p, random seeds, --version.
#include <gtest/gtest.h>

#include <string>

#include "cli_helpers.h"

namespace supra::test::cli {
namespace {

const std::string kPrompt = "Once upon a time";

// --- the error contract: one "error: " line, exit status 1, for every flag mistake ---

TEST(CliFlags, BadNumbersAreFlagErrors) {
  expect_flag_error(run_cli("generate -p hi --temperature abc"), "--temperature");
  expect_flag_error(run_cli("generate -p hi --temp abc"), "abc");
  expect_flag_error(run_cli("generate -p hi -n 1.5"), "1.5");
  expect_flag_error(run_cli("generate -p hi --min-p lots"), "lots");
  expect_flag_error(run_cli("perplexity -f x.txt -c many"), "many");
  expect_flag_error(run_cli("serve --port 99999"), "99999");
}

TEST(CliFlags, CorsOriginsAreStarOrSchemeAndHost) {
  // An origin is sent back in a header: anything but * or scheme://host[:port] is refused.
  expect_flag_error(run_cli("serve --cors-origin example.com"), "example.com");
  expect_flag_error(run_cli("serve --cors-origin http://a.example/path"), "http://a.example/path");
  expect_flag_error(run_cli("serve --cors-origin 'http://a.example x'"), "--cors-origin");
}

TEST(CliFlags, SeedMustBeANumberOrMinusOne) {
  expect_flag_error(run_cli("generate -p hi --seed -2"), "--seed");
  expect_flag_error(run_cli("generate -p hi --seed abc"), "--seed");
  expect_flag_error(run_cli("generate -p hi --seed 1e3"), "--seed");
}

TEST(CliFlags, UnknownFlagsAndSubcommandsAreFlagErrors) {
  expect_flag_error(run_cli("generate --frobnicate"), "--frobnicate");
  expect_flag_error(run_cli("frobnicate"), "frobnicate");
  expect_flag_error(run_cli("--frobnicate"), "--frobnicate");
  expect_flag_error(run_cli("tokenize -p hi extra_word"), "extra_word");
}

TEST(CliFlags, MissingValuesAndRequiredFlagsAreFlagErrors) {
  expect_flag_error(run_cli("generate -p hi -n"), "--max-new-tokens");
  expect_flag_error(run_cli("generate -p"), "--prompt");
  expect_flag_error(run_cli("detokenize"), "--ids");
  expect_flag_error(run_cli("generate -p hi -f story.txt"), "excludes");
}

TEST(CliFlags, OutOfRangeValuesAreErrors) {
  expect_flag_error(run_cli("generate -p hi --temperature 1 --min-p 1.5"), "--min-p");
  expect_flag_error(run_cli("generate -p hi -t -1"), "--threads");
  expect_flag_error(run_cli("generate -p hi --stop ''"), "--stop");
}

TEST(CliFlags, HelpAndVersionSucceed) {
  const CliResult help = run_cli("--help");
  EXPECT_EQ(help.exit_code, 0) << describe(help);
  EXPECT_NE(help.out.find("Usage:"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("chat"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("detokenize"), std::string::npos) << help.out;
  const CliResult sub = run_cli("generate --help");
  EXPECT_EQ(sub.exit_code, 0) << describe(sub);
  EXPECT_NE(sub.out.find("--temp"), std::string::npos) << sub.out;
  const CliResult version = run_cli("--version");
  EXPECT_EQ(version.exit_code, 0) << describe(version);
  EXPECT_EQ(version.out, "supra 0.1.0\n");
}

TEST(CliFlags, MissingModelFolderIsNamed) {
  expect_error(run_cli("info -m /nonexistent/model"), "/nonexistent/model does not exist");
  expect_error(run_cli("generate -m /nonexistent/model -p hi"), "does not exist");
  TempDir tmp;
  write_file(tmp.path() / "file", "x");
  expect_error(run_cli("info -m " + q(tmp.path() / "file")), "is not a folder");
}

// --- aliases: llama.cpp's names give exactly the long names' output ---

TEST(CliFlags, LlamaCppAliasesGiveTheSameOutput) {
  const std::string base = "generate -p " + q(kPrompt) + " --seed 5 ";
  const CliResult long_names = run_cli(base + "--temperature 0.9 --max-new-tokens 24");
  ASSERT_EQ(long_names.exit_code, 0) << describe(long_names);
  for (const char* alias : {"--temp 0.9 --n-predict 24", "--temp 0.9 -n 24", "--temperature 0.9 --n-predict 24 -t 1",
                            "--temperature 0.9 -n 24 --threads 2"}) {
    const CliResult r = run_cli(base + alias);
    ASSERT_EQ(r.exit_code, 0) << alias << "\n" << describe(r);
    EXPECT_EQ(r.out, long_names.out) << alias;
  }
}

TEST(CliFlags, PerplexityCtxSizeAliases) {
  TempDir tmp;
  std::string text;
  for (int i = 0; i < 3; ++i) text += "Once upon a time, there was a little girl named Lily. She loved to play outside.\n";
  write_file(tmp.path() / "story.txt", text);
  const std::string base = "perplexity --json -f " + q(tmp.path() / "story.txt");
  const CliResult ctx = run_cli(base + " --ctx 16");
  ASSERT_EQ(ctx.exit_code, 0) << describe(ctx);
  EXPECT_NE(ctx.out.find("\"context\": 16"), std::string::npos) << ctx.out;
  for (const char* alias : {" -c 16", " --ctx-size 16", " -c 16 -t 1"}) {
    const CliResult r = run_cli(base + alias);
    ASSERT_EQ(r.exit_code, 0) << alias << "\n" << describe(r);
    EXPECT_EQ(r.out, ctx.out) << alias;
  }
  // llama.cpp refuses a text shorter than two windows, naming what it needs.
  expect_error(run_cli(base + " -c 512"), "at least 1024 tokens");
}

// Every compute subcommand takes -t/--threads.
TEST(CliFlags, EveryComputeSubcommandTakesThreads) {
  for (const char* cmd : {"generate", "chat", "logits", "eval", "perplexity", "serve", "bench", "imatrix", "quantize",
                          "train"}) {
    const CliResult r = run_cli(std::string(cmd) + " --help");
    ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << describe(r);
    EXPECT_NE(r.out.find("-t,--threads"), std::string::npos) << cmd << "\n" << r.out;
  }
}

// --- prompts from a file or standard input ---

TEST(CliFlags, PromptFromAFileOrStdinEqualsTheSameText) {
  TempDir tmp;
  write_file(tmp.path() / "prompt.txt", kPrompt);
  const CliResult text = run_cli("generate -n 12 --temperature 0 -p " + q(kPrompt));
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  const CliResult file = run_cli("generate -n 12 --temperature 0 -f " + q(tmp.path() / "prompt.txt"));
  EXPECT_EQ(file.out, text.out) << describe(file);
  const CliResult piped = run_cli_input("generate -n 12 --temperature 0 -f -", kPrompt);
  EXPECT_EQ(piped.out, text.out) << describe(piped);

  const CliResult ids = run_cli("tokenize -p " + q(kPrompt));
  ASSERT_EQ(ids.exit_code, 0) << describe(ids);
  EXPECT_EQ(run_cli("tokenize --file " + q(tmp.path() / "prompt.txt")).out, ids.out);
  EXPECT_EQ(run_cli_input("tokenize -f -", kPrompt).out, ids.out);
  expect_error(run_cli("generate -f " + q(tmp.path() / "missing.txt")), "missing.txt");
}

// --- --stop: the output ends before the first stop string of the continuation ---

TEST(CliFlags, StopStringEndsTheOutputBeforeIt) {
  const std::string args = "generate -n 60 --temperature 0 -p " + q(kPrompt);
  const CliResult full = run_cli(args);
  ASSERT_EQ(full.exit_code, 0) << describe(full);
  const std::string continuation = full.out.substr(kPrompt.size(), full.out.size() - kPrompt.size() - 1);
  ASSERT_GT(continuation.size(), 30u) << full.out;
  const std::string stop = continuation.substr(20, 4);
  const std::string expected = kPrompt + continuation.substr(0, continuation.find(stop)) + "\n";
  const CliResult stopped = run_cli(args + " --stop " + q(stop) + " --stop 'never in a story: qqqq'");
  ASSERT_EQ(stopped.exit_code, 0) << describe(stopped);
  EXPECT_EQ(stopped.out, expected);
  EXPECT_NE(stopped.err.find("stopped at a --stop string"), std::string::npos) << stopped.err;
  // A stop string that never occurs changes nothing.
  EXPECT_EQ(run_cli(args + " --stop qqqq").out, full.out);
}

// --- --min-p: 1 keeps only the most likely token, so sampling becomes greedy ---

TEST(CliFlags, MinPOneSamplesLikeGreedy) {
  const std::string args = "generate -n 40 -p " + q(kPrompt);
  const CliResult greedy = run_cli(args + " --temperature 0");
  const CliResult min_p = run_cli(args + " --temperature 1.5 --top-k 0 --min-p 1 --seed 3");
  ASSERT_EQ(min_p.exit_code, 0) << describe(min_p);
  EXPECT_EQ(min_p.out, greedy.out);
  // And it is applied: without it, temperature 1.5 wanders off the greedy story.
  EXPECT_NE(run_cli(args + " --temperature 1.5 --top-k 0 --seed 3").out, greedy.out);
}

// --- seeds: unset or -1 = a fresh seed per run, printed so that the run can be repeated ---

// N of the "[seed N]" line, or "" when there is none.
std::string printed_seed(const CliResult& r) {
  const std::size_t at = r.err.find("[seed ");
  if (at == std::string::npos) return {};
  const std::size_t begin = at + 6, end = r.err.find(']', begin);
  const std::string seed = r.err.substr(begin, end == std::string::npos ? 0 : end - begin);
  return seed.find_first_not_of("0123456789") == std::string::npos ? seed : std::string();
}

TEST(CliFlags, UnsetSeedIsRandomPrintedAndRepeatable) {
  const std::string args = "generate -n 48 --temperature 1 -p " + q(kPrompt);
  const CliResult a = run_cli(args);
  const CliResult b = run_cli(args + " --seed -1");
  ASSERT_EQ(a.exit_code, 0) << describe(a);
  ASSERT_EQ(b.exit_code, 0) << describe(b);
  const std::string seed_a = printed_seed(a), seed_b = printed_seed(b);
  ASSERT_FALSE(seed_a.empty()) << a.err;
  ASSERT_FALSE(seed_b.empty()) << b.err;
  EXPECT_NE(seed_a, seed_b);
  // 48 tokens at temperature 1 from different seeds: equal stories would be astronomically unlikely.
  EXPECT_NE(a.out, b.out);
  const CliResult again = run_cli(args + " --seed " + seed_a);
  EXPECT_EQ(again.out, a.out);
  EXPECT_TRUE(printed_seed(again).empty()) << "a given seed is not announced\n" << again.err;
  EXPECT_TRUE(printed_seed(run_cli("generate -n 4 --temperature 0 -p hi")).empty()) << "greedy needs no seed";
}

// --- a softmax model past max_position_embeddings ---

TEST(CliFlags, SoftmaxModelPastItsContextWarnsOnce) {
  TempDir tmp;
  for (const auto& e : fs::directory_iterator(stories())) fs::copy(e.path(), tmp.path() / e.path().filename());
  std::string config = read_file(stories() / "config.json");
  config.replace(config.find("\"max_position_embeddings\": 512"), 30, "\"max_position_embeddings\": 8");
  write_file(tmp.path() / "config.json", config);
  const CliResult r = run_cli("generate -m " + q(tmp.path()) + " -n 20 --temperature 0 -p " + q(kPrompt));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto first = r.err.find("warning: ");
  ASSERT_NE(first, std::string::npos) << r.err;
  EXPECT_NE(r.err.find("max_position_embeddings (8 tokens)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("warning: ", first + 1), std::string::npos) << "warned more than once\n" << r.err;
  // The SUPRA model has no such limit.
  EXPECT_EQ(run_cli("generate -n 20 --temperature 0 -p " + q(kPrompt)).err.find("warning"), std::string::npos);
}

}  // namespace
}  // namespace supra::test::cli
