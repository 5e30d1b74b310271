// Helpers shared by the end-to-end tests of the `supra` command line: shell quoting, the
// error contract (one "error: " line on stderr, a non-zero exit, no signal), model folders
// assembled in a TempDir, and byte-level builders for hostile torch zips.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "test_support.h"

namespace supra::test::cli {

namespace fs = std::filesystem;

// One single-quoted shell word.
inline std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
inline std::string q(const fs::path& p) { return q(p.string()); }

inline fs::path golden(const std::string& name) { return data_dir() / "golden" / name; }
inline fs::path stories() { return data_dir().parent_path().parent_path() / "models" / "stories260K"; }

// The printable part of a run, for failure messages.
inline std::string describe(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout ---\n" + r.out.substr(0, 2000) +
         "\n--- stderr ---\n" + r.err.substr(0, 2000);
}

// The error contract of the command line: non-zero exit without a signal, and stderr that is
// ONE line starting with "error: " and containing `needle`.
inline void expect_error(const CliResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_LT(r.exit_code, 128) << "killed by a signal (a crash)\n" << describe(r);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << "stderr must start with \"error: \"\n" << describe(r);
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr should mention \"" << needle << "\"\n" << describe(r);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "stderr must be exactly one line\n" << describe(r);
}

// A flag error (bad number, unknown or missing flag or value): the same contract, and exit
// status exactly 1 (not CLI11's own codes).
inline void expect_flag_error(const CliResult& r, const std::string& needle) {
  expect_error(r, needle);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_TRUE(r.out.empty()) << describe(r);
}

// Runs `supra args` with `input` on its standard input (run_cli gives it /dev/null).
inline CliResult run_cli_input(const std::string& args, const std::string& input) {
  TempDir dir;
  write_file(dir.path() / "stdin", input);
  const fs::path out = dir.path() / "stdout", err = dir.path() / "stderr";
  const std::string cmd = q(std::string(SUPRA_CLI)) + " " + args + " <" + q(dir.path() / "stdin") + " >" + q(out) +
                          " 2>" + q(err);
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

inline void copy_into(const fs::path& file, const fs::path& dir) {
  fs::copy_file(file, dir / file.filename(), fs::copy_options::overwrite_existing);
}

}  // namespace supra::test::cli
