// Faults while the CLI writes files (issue: hardening): a full disk, a directory the user may
// not write, and a process killed mid-write. Each must leave the previous file intact, say
// what went wrong, exit non-zero, and leave no temporary file behind (except after kill -9,
// where only the temporary file, never the final name, can hold partial bytes).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "io/atomic_file.h"
#include "test_support.h"

namespace fs = std::filesystem;
using supra::test::read_file;
using supra::test::run_cli;
using supra::test::TempDir;
using supra::test::write_file;

namespace {

const std::string kModel = (fs::path(SUPRA_TEST_DATA) / ".." / ".." / "models" / "stories260K").string();

// A command that writes `target` (an existing file the fault must leave alone).
struct Writer {
  const char* name;
  std::string args(const fs::path& target) const {
    if (std::string(name) == "logits")
      return "logits -m '" + kModel + "' --ids 1,403,407,261,378,389,300 -o '" + target.string() + "'";
    return "generate -m '" + kModel + "' -p 'Once upon a time there was' -n 2 --temperature 0 --prompt-cache '" +
           target.string() + "'";
  }
};

const Writer kWriters[] = {{"logits"}, {"prompt-cache"}};

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}));
}

// A valid previous file for each writer, made by the writer itself.
void make_previous(const Writer& w, const fs::path& target) {
  const auto r = run_cli(w.args(target));
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace

TEST(WriteFaults, DiskFullLeavesThePreviousFile) {
  for (const Writer& w : kWriters) {
    SCOPED_TRACE(w.name);
    TempDir dir;
    const fs::path target = dir.path() / "out.bin";
    make_previous(w, target);
    const std::string before = read_file(target);
    ASSERT_GT(before.size(), 4096u);
    // A file size limit makes write() fail as a full disk does (EFBIG rather than ENOSPC);
    // SIGXFSZ is ignored so the write returns an error instead of killing the process.
    const auto r = run_cli(w.args(target), "trap '' XFSZ; ulimit -f 8; ");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("error: cannot write " + target.string()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(target), before);
    EXPECT_EQ(entries(dir.path()), 1u);  // no temporary file left
  }
}

// Writers of whole folders (a converted model) refuse an existing output, so the fault must
// leave nothing at all: no half-written folder under the final name, no temporary folder.
TEST(WriteFaults, DiskFullWhileConvertingLeavesNoOutput) {
  const std::string converters[] = {
      "quantize -m '" + kModel + "' --type f32 -o ",
      "linearize -m '" + kModel + "' -o ",
  };
  for (const std::string& command : converters) {
    SCOPED_TRACE(command);
    TempDir dir;
    const fs::path target = dir.path() / "converted";
    const auto r = run_cli(command + "'" + target.string() + "'", "trap '' XFSZ; ulimit -f 64; ");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(target));
    EXPECT_EQ(entries(dir.path()), 0u);
    const auto ok = run_cli(command + "'" + target.string() + "'");  // and the same command works without the fault
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
  }
}

// A token shard replaces its previous version only when complete.
TEST(WriteFaults, DiskFullWhileTokenizingLeavesThePreviousShard) {
  TempDir dir;
  const fs::path text = dir.path() / "text.txt", shard = dir.path() / "corpus.bin";
  std::string story;
  for (int i = 0; i < 400; ++i) story += "Once upon a time there was a little girl who liked to play. ";
  write_file(text, story);
  ASSERT_EQ(run_cli("tokenize-data -m '" + kModel + "' --out '" + shard.string() + "' '" + text.string() + "'").exit_code, 0);
  const std::string before = read_file(shard);
  ASSERT_GT(before.size(), 4096u);
  write_file(text, story + story);
  const auto r = run_cli("tokenize-data -m '" + kModel + "' --out '" + shard.string() + "' '" + text.string() + "'",
                         "trap '' XFSZ; ulimit -f 8; ");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(shard), before);
  EXPECT_EQ(entries(dir.path()), 2u);
}

TEST(WriteFaults, PermissionDeniedLeavesThePreviousFile) {
  // Root ignores permission bits, so as root the command runs as `nobody`.
  const bool root = ::geteuid() == 0;
  if (root && std::system("setpriv --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "setpriv is not installed";
  const std::string as_user = root ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  for (const Writer& w : kWriters) {
    SCOPED_TRACE(w.name);
    TempDir dir;
    fs::permissions(dir.path(), fs::perms::all);
    const fs::path locked = dir.path() / "locked";
    fs::create_directory(locked);
    const fs::path target = locked / "out.bin";
    make_previous(w, target);
    const std::string before = read_file(target);
    fs::permissions(target, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
    const auto r = run_cli(w.args(target), as_user);
    fs::permissions(locked, fs::perms::owner_all);
    if (r.err.find("Permission denied") != std::string::npos && r.err.find(target.string()) == std::string::npos)
      GTEST_SKIP() << "the build or the model is not readable by an unprivileged user here: " << r.err;
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("error: cannot write " + target.string()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
    EXPECT_EQ(read_file(target), before);
    EXPECT_EQ(entries(locked), 1u);
  }
}

// kill -9 at random moments of a slow atomic write: the final name holds the old bytes or
// the complete new ones, never a prefix.
TEST(WriteFaults, KillDuringWriteNeverExposesAPartialFile) {
  TempDir dir;
  const fs::path target = dir.path() / "state.bin";
  const std::string old_bytes(4096, 'o'), new_bytes(1 << 20, 'n');
  write_file(target, old_bytes);
  for (int delay_ms : {0, 5, 20, 60}) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      supra::write_file_atomically(target, [&](std::ostream& out) {
        for (std::size_t i = 0; i < new_bytes.size(); i += 4096) {
          out.write(new_bytes.data() + i, 4096);
          out.flush();
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      });
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    const std::string now = read_file(target);
    EXPECT_TRUE(now == old_bytes || now == new_bytes) << "partial file of " << now.size() << " bytes";
    for (const auto& e : fs::directory_iterator(dir.path())) {  // a killed writer leaves only its temp file
      if (e.path() == target) continue;
      EXPECT_NE(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
    }
    write_file(target, old_bytes);
  }
}
