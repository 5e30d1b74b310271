// supra quantize end to end: the output folder generates, bad flags and an existing output
// are one-line errors, and a failed run leaves nothing behind.
#include <gtest/gtest.h>

#include "cli_helpers.h"

namespace supra::test::cli {
namespace {

TEST(Quantize, OutputFolderGeneratesAndReportsItsTypes) {
  TempDir dir;
  const fs::path out = dir.path() / "q4";
  const CliResult r = run_cli("quantize -m " + q(stories()) + " -o " + q(out) + " --type q4");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  for (const char* f : {"model.gguf", "config.json", "tokenizer.model", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  const CliResult gen = run_cli("generate -m " + q(out) + " -p 'Once upon a time' -n 8 --temperature 0");
  EXPECT_EQ(gen.exit_code, 0) << describe(gen);
  EXPECT_FALSE(gen.out.empty());
  const CliResult info = run_cli("info -m " + q(out));
  EXPECT_NE(info.out.find("Q4_0"), std::string::npos) << describe(info);
  // Re-quantizing a GGUF folder works too (any supported input).
  const CliResult again = run_cli("quantize -m " + q(out) + " -o " + q(dir.path() / "q8") + " --type q8");
  EXPECT_EQ(again.exit_code, 0) << describe(again);
}

TEST(Quantize, BadFlagsAndExistingOutputAreErrors) {
  TempDir dir;
  expect_error(run_cli("quantize -m " + q(stories()) + " -o " + q(dir.path() / "x") + " --type q3"), "--type");
  EXPECT_FALSE(fs::exists(dir.path() / "x"));
  expect_error(run_cli("quantize -m " + q(stories()) + " -o " + q(dir.path()) + " --type q8"), "already exists");
  expect_error(run_cli("quantize -m " + q(dir.path() / "absent") + " -o " + q(dir.path() / "y") + " --type q8"),
               "absent");
  expect_flag_error(run_cli("quantize -m " + q(stories()) + " --type q8"), "--out");
  // Nothing half-written is left beside the output.
  for (const auto& entry : fs::directory_iterator(dir.path())) ADD_FAILURE() << "left behind: " << entry.path();
}

TEST(Quantize, ImportanceMatrixFromImatrixFeedsQ4) {
  TempDir dir;
  const fs::path text = dir.path() / "calibration.txt";
  std::string story;
  for (int i = 0; i < 40; ++i) story += "Once upon a time there was a little girl who liked to play in the park. ";
  write_file(text, story);
  const fs::path im = dir.path() / "im.gguf";
  const CliResult r = run_cli("imatrix -m " + q(stories()) + " -f " + q(text) + " -o " + q(im) + " --ctx 64");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("windows of 64 tokens"), std::string::npos) << describe(r);
  const fs::path out = dir.path() / "q4";
  const CliResult qz = run_cli("quantize -m " + q(stories()) + " -o " + q(out) + " --type q4 --imatrix " + q(im));
  ASSERT_EQ(qz.exit_code, 0) << describe(qz);
  const CliResult gen = run_cli("generate -m " + q(out) + " -p 'Once upon a time' -n 8 --temperature 0");
  EXPECT_EQ(gen.exit_code, 0) << describe(gen);

  expect_error(run_cli("quantize -m " + q(stories()) + " -o " + q(dir.path() / "q8") + " --type q8 --imatrix " + q(im)),
               "--imatrix");
  expect_error(run_cli("quantize -m " + q(stories()) + " -o " + q(dir.path() / "x") + " --type q4 --imatrix " +
                       q(dir.path() / "absent.gguf")),
               "absent.gguf");
  // A model file is not an importance matrix.
  expect_error(run_cli("quantize -m " + q(stories()) + " -o " + q(dir.path() / "y") + " --type q4 --imatrix " +
                       q(out / "model.gguf")),
               "not an importance matrix");
  expect_error(run_cli("imatrix -m " + q(stories()) + " -f " + q(dir.path() / "absent.txt")), "-f");
  expect_error(run_cli("imatrix -m " + q(stories()) + " -f " + q(text) + " --ctx 1"), "--ctx");
  expect_flag_error(run_cli("imatrix -m " + q(stories())), "--file");
  for (const char* left : {"q8", "x", "y"}) EXPECT_FALSE(fs::exists(dir.path() / left)) << left;
}

TEST(Quantize, ATruncatedGgufIsAnError) {
  TempDir dir;
  const fs::path out = dir.path() / "q8";
  ASSERT_EQ(run_cli("quantize -m " + q(stories()) + " -o " + q(out) + " --type q8").exit_code, 0);
  fs::resize_file(out / "model.gguf", fs::file_size(out / "model.gguf") / 2);
  expect_error(run_cli("generate -m " + q(out) + " -p 'Once' -n 4"), "truncated");
}

}  // namespace
}  // namespace supra::test::cli
