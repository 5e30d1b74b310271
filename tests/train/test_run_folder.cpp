// A run folder left by a run that stopped before its first checkpoint (killed, out of disk)
// is taken over by a new run; one with a checkpoint or a finished model is not; two runs never
// share a folder (docs/TRAINING.md, "Failures").
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include "train/train_log.h"
#include "train_helpers.h"

namespace supra::test::train_tests {
namespace {

using RunFolder = SmallRunTest;

std::size_t log_rows(const fs::path& run) {
  return supra::train::parse_csv(read_file(run / "train_log.csv"), "train_log.csv").size();
}

bool has_temporary_folders(const fs::path& checkpoints) {
  for (const auto& e : fs::directory_iterator(checkpoints))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

TEST_F(RunFolder, AFolderWithoutACheckpointIsTakenOverByANewRun) {
  // What a run killed during its first checkpoint leaves: the log of its first steps, a
  // half-written checkpoint folder, the lock file, a plot of another run.
  const fs::path out = tmp_.path() / "stopped";
  ASSERT_EQ(run_cli(args(tmp_.path() / "whole")).exit_code, 0);
  fs::create_directories(out / "checkpoints" / "step-00000004.tmp.4242.0");
  write_file(out / "checkpoints" / "step-00000004.tmp.4242.0" / "model.safetensors", "half");
  const std::string log = read_file(tmp_.path() / "whole" / "train_log.csv");
  write_file(out / "train_log.csv", log.substr(0, log.find("\n4,") + 1));  // the header and steps 1-3
  write_file(out / "run.lock", "");
  write_file(out / "loss.png", "not this run's plot");

  expect_cli_error(run_cli(args(out, "--resume")), "no checkpoint to resume from");
  expect_cli_error(run_cli(args(out, "--resume")), "starts again without --resume");

  const CliResult r = run_cli(args(out));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("note: " + out.string() + " holds a run that stopped before its first checkpoint"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(log_rows(out), 8u);
  EXPECT_FALSE(has_temporary_folders(out / "checkpoints"));
  EXPECT_EQ(read_file(out / "loss.png").substr(1, 3), "PNG");
  // Nothing of the stopped run leaked into the new one: it is the run from scratch, bit for bit.
  EXPECT_EQ(read_file(out / "model" / "model.safetensors"), read_file(tmp_.path() / "whole" / "model" / "model.safetensors"));
}

TEST_F(RunFolder, ARunOutOfDiskBeforeItsFirstCheckpointCanStartAgain) {
  // A file-size limit below the size of model.safetensors (2.6 MB) and above the log's makes
  // the first checkpoint fail as on a full disk (EFBIG instead of ENOSPC; SIGXFSZ ignored).
  // The unit of `ulimit -f` is 512 or 1024 bytes depending on the shell: both fit.
  const fs::path out = tmp_.path() / "full";
  const CliResult full = run_cli(args(out), "ulimit -f 1000; trap '' XFSZ; ");
  EXPECT_EQ(full.exit_code, 1) << describe(full);
  EXPECT_EQ(full.err.rfind("error: ", 0), 0u) << describe(full);
  ASSERT_EQ(log_rows(out), 4u) << "the run stops at its first checkpoint, after step 4";
  EXPECT_FALSE(fs::exists(fs::symlink_status(out / "checkpoints" / "latest")));

  const CliResult again = run_cli(args(out));
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  EXPECT_EQ(log_rows(out), 8u);
  EXPECT_TRUE(fs::is_directory(out / "checkpoints" / "latest"));
}

TEST_F(RunFolder, AFirstCheckpointWithoutItsLinkIsResumed) {
  // Killed after step-4 was renamed into place but before `latest` pointed to it.
  const fs::path whole = finished_run("whole"), out = tmp_.path() / "unlinked";
  fs::copy(whole, out, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::remove(out / "checkpoints" / "latest");
  fs::remove_all(out / "checkpoints" / "step-00000008");
  fs::remove_all(out / "model");
  expect_cli_error(run_cli(args(out)), "continue it with --resume");
  const CliResult r = run_cli(args(out, "--resume"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(fs::read_symlink(out / "checkpoints" / "latest"), "step-00000008");
  EXPECT_EQ(read_file(out / "model" / "model.safetensors"), read_file(whole / "model" / "model.safetensors"));
}

TEST_F(RunFolder, AFinishedRunIsNotTakenOver) {
  const fs::path out = tmp_.path() / "done";
  ASSERT_EQ(run_cli(args(out, "--checkpoint-every 0")).exit_code, 0);
  const std::string model = read_file(out / "model" / "model.safetensors");
  expect_cli_error(run_cli(args(out, "--lr 1e-3")), "already holds a finished training run (model/)");
  expect_cli_error(run_cli(args(out, "--resume")), "no checkpoint to resume from");
  EXPECT_EQ(read_file(out / "model" / "model.safetensors"), model);
}

TEST_F(RunFolder, TwoRunsNeverShareAFolder) {
  const fs::path out = tmp_.path() / "busy";
  fs::create_directories(out);
  const int fd = ::open((out / "run.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // this process plays the run in progress
  expect_cli_error(run_cli(args(out)), "is in use by another supra train");
  expect_cli_error(run_cli(args(out, "--resume")), "is in use by another supra train");
  EXPECT_FALSE(fs::exists(out / "train_log.csv"));
  ::close(fd);  // the lock goes with its holder, as it does when a run is killed
  const CliResult r = run_cli(args(out));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

}  // namespace
}  // namespace supra::test::train_tests
