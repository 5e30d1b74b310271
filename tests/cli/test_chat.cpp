// `supra chat` over standard input: the conversation lives in one state, each turn reads only
// its new tokens, and /save + /load in another process continue exactly as one session would.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_helpers.h"

namespace supra::test::cli {
namespace {

// Greedy, so that separate processes must agree token for token; the teacher model
// (stories260K) has no chat template of its own: supra chat uses serve's default (mistral).
std::string chat_args() { return "chat -m " + q(stories()) + " -n 24 --temperature 0"; }

// N of each turn's "[N tokens read, M generated; conversation T tokens]" line, in order.
std::vector<int> tokens_read(const CliResult& r) {
  std::vector<int> read;
  for (std::size_t at = r.err.find(" tokens read, "); at != std::string::npos; at = r.err.find(" tokens read, ", at + 1)) {
    const std::size_t open = r.err.rfind('[', at);
    if (open != std::string::npos) read.push_back(std::stoi(r.err.substr(open + 1, at - open - 1)));
  }
  return read;
}

TEST(CliChat, SaveThenLoadInAnotherProcessContinuesLikeOneSession) {
  TempDir tmp;
  const std::string state = (tmp.path() / "chat.state").string();
  const CliResult first = run_cli_input(chat_args(), "Hello there\n");
  const CliResult whole = run_cli_input(chat_args(), "Hello there\nTell me a story\n");
  const CliResult saved = run_cli_input(chat_args(), "Hello there\n/save " + state + "\nTell me a story\n");
  const CliResult loaded = run_cli_input(chat_args(), "/load " + state + "\nTell me a story\n");
  for (const CliResult* r : {&first, &whole, &saved, &loaded}) ASSERT_EQ(r->exit_code, 0) << describe(*r);

  EXPECT_EQ(saved.out, whole.out);               // /save changes nothing
  EXPECT_EQ(whole.out, first.out + loaded.out);  // the loaded state continues where it was saved
  EXPECT_GT(loaded.out.size(), 1u) << loaded.out;
  // The second message reads only its own tokens (template and text), never the history.
  const std::vector<int> whole_read = tokens_read(whole), loaded_read = tokens_read(loaded);
  ASSERT_EQ(whole_read.size(), 2u) << whole.err;
  ASSERT_EQ(loaded_read.size(), 1u) << loaded.err;
  EXPECT_EQ(loaded_read[0], whole_read[1]);
  EXPECT_LT(whole_read[1], 24 + whole_read[0]);
  EXPECT_NE(loaded.err.find("[loaded from " + state), std::string::npos) << loaded.err;
  // The same message in a new conversation gets another answer: the state carried the first.
  const CliResult fresh = run_cli_input(chat_args(), "Tell me a story\n");
  EXPECT_NE(fresh.out, loaded.out);
}

TEST(CliChat, ResetStartsANewConversation) {
  const CliResult r = run_cli_input(chat_args(), "Hello there\n/reset\nHello there\n");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const CliResult once = run_cli_input(chat_args(), "Hello there\n");
  EXPECT_EQ(r.out, once.out + once.out);
  EXPECT_NE(r.err.find("[new conversation]"), std::string::npos) << r.err;
}

TEST(CliChat, ExitEndsTheSessionAndBlankLinesAreSkipped) {
  const CliResult r = run_cli_input(chat_args(), "\n\nHello there\n/exit\nnever read\n");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, run_cli_input(chat_args(), "Hello there\n").out);
  EXPECT_EQ(tokens_read(r).size(), 1u) << r.err;
}

// A failing command is reported and the conversation goes on; the exit status says it failed.
TEST(CliChat, BadCommandsAreReportedAndTheSessionGoesOn) {
  TempDir tmp;
  write_file(tmp.path() / "corrupt.state", "SUPRASTA but not really a state");
  const CliResult r = run_cli_input(chat_args(), "/load " + (tmp.path() / "missing.state").string() + "\n/load " +
                                                     (tmp.path() / "corrupt.state").string() +
                                                     "\n/save\n/frobnicate\nHello there\n");
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.err.find("error: /load cannot open " + (tmp.path() / "missing.state").string() + ": No such file"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("error: /load " + (tmp.path() / "corrupt.state").string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\"/save\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\"/frobnicate\""), std::string::npos) << r.err;
  EXPECT_EQ(r.out, run_cli_input(chat_args(), "Hello there\n").out);  // the conversation was untouched
  // A state of another model is refused the same way.
  const std::string state = (tmp.path() / "supra.state").string();
  ASSERT_EQ(run_cli_input("chat -n 2 --temperature 0", "hi\n/save " + state + "\n").exit_code, 0);
  const CliResult other = run_cli_input(chat_args(), "/load " + state + "\n");
  EXPECT_EQ(other.exit_code, 1) << describe(other);
  EXPECT_NE(other.err.find("error: /load " + state), std::string::npos) << other.err;
}

TEST(CliChat, EveryServeTemplateRuns) {
  for (const char* name : {"mistral", "llama2", "chatml", "zephyr", "raw"}) {
    const CliResult r =
        run_cli_input("chat -n 8 --temperature 0 --chat-template " + std::string(name), "Hello\nAnd again\n");
    EXPECT_EQ(r.exit_code, 0) << name << "\n" << describe(r);
    EXPECT_EQ(tokens_read(r).size(), 2u) << name << "\n" << r.err;
  }
  expect_error(run_cli("chat --chat-template frobnicate"), "frobnicate");
}

TEST(CliChat, StopStringsEndAReply) {
  const CliResult full = run_cli_input(chat_args(), "Hello there\n");
  ASSERT_EQ(full.exit_code, 0) << describe(full);
  ASSERT_GT(full.out.size(), 12u) << full.out;
  const std::string stop = full.out.substr(8, 3);
  const CliResult cut = run_cli_input(chat_args() + " --stop " + q(stop), "Hello there\n");
  ASSERT_EQ(cut.exit_code, 0) << describe(cut);
  EXPECT_EQ(cut.out, full.out.substr(0, full.out.find(stop)) + "\n");
}

}  // namespace
}  // namespace supra::test::cli
