// Helpers shared by the end-to-end tests of the `supra` command line: shell quoting, the
// error contract (one "error: " line on stderr, a non-zero exit, no signal), model folders
// assembled in a TempDir, and byte-level builders for hostile torch zips.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
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

// A CLI11 usage error (flag syntax): non-zero exit without a signal, and a message naming
// `needle` on stderr.
inline void expect_usage_error(const CliResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_LT(r.exit_code, 128) << "killed by a signal (a crash)\n" << describe(r);
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr should mention \"" << needle << "\"\n" << describe(r);
}

inline void copy_into(const fs::path& file, const fs::path& dir) {
  fs::copy_file(file, dir / file.filename(), fs::copy_options::overwrite_existing);
}

}  // namespace supra::test::cli
