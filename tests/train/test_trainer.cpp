// `supra train` end to end on the tiny SUPRA model of the repository: determinism, learning,
// checkpoints that load, kill -9 + --resume bit for bit, two MPI ranks = one process, and the
// error contract for bad flags and inputs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "supra/checkpoint.h"
#include "supra/model.h"
#include "train/parameters.h"
#include "train/train_log.h"
#include "train_helpers.h"

namespace supra::test::train_tests {
namespace {

using supra::train::StepRecord;

class TrainRun : public ::testing::Test {
 protected:
  void SetUp() override {
    shard_ = tmp_.path() / "data.bin";
    write_counting_shard(shard_, 60, 5);
  }

  // Flags of a small run; `out` is the run folder.
  std::string args(const fs::path& out, const std::string& extra = "") const {
    return "train -m " + q(golden("supra_gqa")) + " --data " + q(shard_) + " --out " + q(out) +
           " --val-fraction 0.1 --seq-len 32 --batch-size 4 --grad-accum 2 --steps 16 --lr 2e-3 --end-lr 1e-4"
           " --warmup 3 --z-loss 1e-4 --eval-every 8 --eval-batches 1 --checkpoint-every 4 --seed 11 --threads 1"
           " --no-progress " +
           extra;
  }

  static std::vector<StepRecord> log_of(const fs::path& out) {
    return supra::train::parse_csv(read_file(out / "train_log.csv"), (out / "train_log.csv").string());
  }

  TempDir tmp_;
  fs::path shard_;
};

// Every column but the timing, exactly. In the kill test the rows before the kill come from a
// second run from scratch, so they also show that two runs with one seed agree.
void expect_same_log(const std::vector<StepRecord>& a, const std::vector<StepRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_EQ(a[i].tokens, b[i].tokens);
    EXPECT_EQ(a[i].lr, b[i].lr) << "step " << a[i].step;
    EXPECT_EQ(a[i].loss, b[i].loss) << "step " << a[i].step;
    EXPECT_EQ(a[i].ce, b[i].ce) << "step " << a[i].step;
    EXPECT_EQ(a[i].z_loss, b[i].z_loss) << "step " << a[i].step;
    EXPECT_EQ(a[i].grad_norm, b[i].grad_norm) << "step " << a[i].step;
    EXPECT_EQ(a[i].val_loss, b[i].val_loss) << "step " << a[i].step;
  }
}

supra::train::ParameterSet params_of(const fs::path& folder) {
  return supra::train::load_parameters(Checkpoint::open_folder(folder));
}

TEST_F(TrainRun, LearnsDeterministicallyAndWritesALoadableModel) {
  const CliResult r = run_cli(args(tmp_.path() / "a"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("trained 16 steps"), std::string::npos) << r.out;
  const std::vector<StepRecord> log = log_of(tmp_.path() / "a");
  ASSERT_EQ(log.size(), 16u);
  EXPECT_LT(log.back().loss, 0.6 * log.front().loss) << "the loss did not fall";
  for (const StepRecord& s : log) {
    EXPECT_EQ(s.tokens, s.step * 4 * 32);
    EXPECT_EQ(s.val_loss.has_value(), s.step % 8 == 0) << s.step;
    EXPECT_GT(s.z_loss, 0);
    EXPECT_NEAR(s.loss, s.ce + s.z_loss, 1e-12);
  }
  EXPECT_LT(*log.back().val_loss, *log[7].val_loss);
  EXPECT_LT(log[1].lr, log[2].lr);  // warmup
  EXPECT_GT(log[6].lr, log[12].lr);  // cosine decay

  // The final model and the latest checkpoint are model folders.
  const Model final_model = Model::load(tmp_.path() / "a" / "model");
  EXPECT_EQ(final_model.config().attention, AttentionKind::Linear);
  EXPECT_NO_THROW(Model::load(tmp_.path() / "a" / "checkpoints" / "latest"));
  EXPECT_TRUE(fs::is_directory(tmp_.path() / "a" / "checkpoints" / "step-00000016"));
  EXPECT_TRUE(fs::is_directory(tmp_.path() / "a" / "checkpoints" / "step-00000012"));  // the previous one is kept
  EXPECT_FALSE(fs::exists(tmp_.path() / "a" / "checkpoints" / "step-00000008"));
  const std::string png = read_file(tmp_.path() / "a" / "loss.png");
  EXPECT_EQ(png.substr(1, 3), "PNG");
  // The model changed; the latest checkpoint holds the same parameters as the export.
  EXPECT_NE(params_of(tmp_.path() / "a" / "model").at("model.layers.0.attention._totrain_embed.weight").data,
            params_of(golden("supra_gqa")).at("model.layers.0.attention._totrain_embed.weight").data);
  EXPECT_EQ(read_file(tmp_.path() / "a" / "model" / "model.safetensors"),
            read_file(tmp_.path() / "a" / "checkpoints" / "latest" / "model.safetensors"));
}

// Starts `supra <args>` in the background; returns its pid.
pid_t spawn_cli(const std::string& cli_args) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cmd = std::string("exec '") + SUPRA_CLI + "' " + cli_args + " >/dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

TEST_F(TrainRun, KilledThenResumedGivesTheUninterruptedRun) {
  ASSERT_EQ(run_cli(args(tmp_.path() / "whole")).exit_code, 0);
  const fs::path out = tmp_.path() / "killed";
  const pid_t pid = spawn_cli(args(out));
  ASSERT_GT(pid, 0);
  // Kill it once a checkpoint exists and training has gone past it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool killed = false;
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    if (fs::exists(out / "checkpoints" / "step-00000008", ec)) {
      ::kill(pid, SIGKILL);
      killed = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(killed) << "no checkpoint appeared";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run ended before it could be killed";
  ASSERT_FALSE(fs::exists(out / "model"));

  const CliResult resumed = run_cli(args(out, "--resume"));
  ASSERT_EQ(resumed.exit_code, 0) << describe(resumed);
  expect_same_log(log_of(tmp_.path() / "whole"), log_of(out));
  EXPECT_EQ(read_file(out / "model" / "model.safetensors"), read_file(tmp_.path() / "whole" / "model" / "model.safetensors"));
}

TEST_F(TrainRun, TwoMpiRanksEqualOneProcess) {
#ifndef SUPRA_MPIEXEC
  GTEST_SKIP() << "built without MPI";
#else
  const std::string short_run = "--steps 8 --checkpoint-every 0 --eval-every 4";
  ASSERT_EQ(run_cli(args(tmp_.path() / "one", short_run + " --grad-accum 2")).exit_code, 0);
  const fs::path out = tmp_.path() / "two";
  // Open MPI's own allocations are not ours to leak-check (sanitizer builds).
  const std::string cmd = std::string("ASAN_OPTIONS=detect_leaks=0 '") + SUPRA_MPIEXEC +
                          "' -np 2 --oversubscribe --allow-run-as-root '" + SUPRA_CLI + "' " +
                          args(out, short_run + " --grad-accum 1") + " >" + q(tmp_.path() / "mpi.log") + " 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(tmp_.path() / "mpi.log");
  const std::vector<StepRecord> a = log_of(tmp_.path() / "one"), b = log_of(out);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(a[i].loss, b[i].loss, 1e-5 * std::fabs(a[i].loss)) << "step " << a[i].step;
    EXPECT_NEAR(a[i].grad_norm, b[i].grad_norm, 1e-4 * std::fabs(a[i].grad_norm)) << "step " << a[i].step;
    ASSERT_EQ(a[i].val_loss.has_value(), b[i].val_loss.has_value());
    if (a[i].val_loss) {
      EXPECT_NEAR(*a[i].val_loss, *b[i].val_loss, 1e-5 * *a[i].val_loss);
    }
  }
  const auto pa = params_of(tmp_.path() / "one" / "model"), pb = params_of(out / "model");
  for (const auto& p : pa.all()) {
    const Diff d = compare(pb.at(p.name).data, p.data);
    EXPECT_LT(d.max_abs, 1e-4) << p.name;
  }
  // Only rank 0 wrote: one log with one header.
  EXPECT_EQ(read_file(out / "train_log.csv").find("step,", 1), std::string::npos);
#endif
}

TEST_F(TrainRun, AnErrorUnderMpiEndsTheWholeJob) {
#ifndef SUPRA_MPIEXEC
  GTEST_SKIP() << "built without MPI";
#else
  const std::string cmd = std::string("ASAN_OPTIONS=detect_leaks=0 timeout 120 '") + SUPRA_MPIEXEC +
                          "' -np 2 --oversubscribe --allow-run-as-root '" + SUPRA_CLI + "' " +
                          args(tmp_.path() / "bad", "--batch-size 6 --grad-accum 2") + " >" +
                          q(tmp_.path() / "mpi.log") + " 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string log = read_file(tmp_.path() / "mpi.log");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_NE(WEXITSTATUS(status), 0) << log;
  EXPECT_NE(WEXITSTATUS(status), 124) << "the job hung\n" << log;
  EXPECT_NE(log.find("error: rank 0: --batch-size 6 must be a multiple of ranks × --grad-accum (2 × 2)"),
            std::string::npos)
      << log;
#endif
}

TEST_F(TrainRun, ResumeNeedsACheckpointAndTheSameSettings) {
  expect_cli_error(run_cli(args(tmp_.path() / "none", "--resume")), "no checkpoint");
  ASSERT_EQ(run_cli(args(tmp_.path() / "a", "--steps 4 --warmup 1 --eval-every 0")).exit_code, 0);
  expect_cli_error(run_cli(args(tmp_.path() / "a", "--steps 4 --warmup 1 --eval-every 0")), "already holds a training run");
  expect_cli_error(run_cli(args(tmp_.path() / "a", "--steps 4 --warmup 1 --eval-every 0 --lr 1e-3 --resume")),
                   "lr is 0.001");
}

TEST_F(TrainRun, BadFlagsAndInputsAreErrors) {
  const fs::path out = tmp_.path() / "x";
  expect_cli_error(run_cli(args(out, "--batch-size 5")), "--batch-size 5 must be a multiple");
  expect_cli_error(run_cli(args(out, "--precision f16")), "--precision");
  expect_cli_error(run_cli(args(out, "--val-fraction 1.5")), "--val-fraction");
  expect_cli_error(run_cli(args(out, "--warmup 100")), "--warmup");
  expect_cli_error(run_cli(args(out, "--seq-len 5000")), "sequence");
  const std::string no_val = "train -m " + q(golden("supra_gqa")) + " --data " + q(shard_) + " --out " + q(out) +
                             " --steps 2 --eval-every 1";
  expect_cli_error(run_cli(no_val), "--eval-every needs validation data");
  const std::string bytes = read_file(shard_);
  write_file(tmp_.path() / "cut.bin", bytes.substr(0, bytes.size() - 1));
  expect_cli_error(run_cli("train -m " + q(golden("supra_gqa")) + " --data " + q(tmp_.path() / "cut.bin") + " --out " +
                           q(out) + " --steps 2"),
                   "truncated");
  supra::train::ShardWriter big(tmp_.path() / "big.bin", 1000);
  big.add_document(std::vector<TokenId>(100, 999));
  big.finish();
  expect_cli_error(run_cli("train -m " + q(golden("supra_gqa")) + " --data " + q(tmp_.path() / "big.bin") + " --out " +
                           q(out) + " --steps 2 --seq-len 8"),
                   "vocabulary of 1000");
  expect_cli_error(run_cli("train -m " + q(tmp_.path() / "nomodel") + " --data " + q(shard_) + " --out " + q(out) +
                           " --steps 2"),
                   "-m: the folder " + (tmp_.path() / "nomodel").string() + " does not exist");
  EXPECT_FALSE(fs::exists(out / "model"));
}

}  // namespace
}  // namespace supra::test::train_tests

namespace supra::test::train_tests {
namespace {

// The whole path of spec §8 on the shipped teacher: linearize, tokenize text, up-train, then
// generate with the result.
TEST(TrainPipeline, LinearizeTokenizeTrainGenerate) {
  TempDir tmp;
  const CliResult lin = run_cli("linearize -m " + q(stories()) + " -o " + q(tmp.path() / "supra") + " --seed 1");
  ASSERT_EQ(lin.exit_code, 0) << describe(lin);
  const CliResult tok = run_cli("tokenize-data -m " + q(tmp.path() / "supra") + " --out " + q(tmp.path() / "story.bin") +
                                " " + q(data_dir() / "stories260K" / "greedy_t0_n256.txt"));
  ASSERT_EQ(tok.exit_code, 0) << describe(tok);
  const CliResult tr = run_cli("train -m " + q(tmp.path() / "supra") + " --data " + q(tmp.path() / "story.bin") +
                               " --out " + q(tmp.path() / "run") +
                               " --seq-len 16 --batch-size 4 --steps 6 --lr 1e-3 --val-fraction 0.2 --threads 1");
  ASSERT_EQ(tr.exit_code, 0) << describe(tr);
  const std::vector<StepRecord> log =
      supra::train::parse_csv(read_file(tmp.path() / "run" / "train_log.csv"), "train_log.csv");
  ASSERT_EQ(log.size(), 6u);
  EXPECT_TRUE(log.back().val_loss.has_value());
  for (const StepRecord& s : log) EXPECT_TRUE(std::isfinite(s.loss) && s.loss > 0) << s.step;
  EXPECT_TRUE(fs::is_regular_file(tmp.path() / "run" / "model" / "tokenizer.model"));
  const CliResult gen = run_cli("generate -m " + q(tmp.path() / "run" / "model") + " -p 'Once upon' -n 8 --temperature 0");
  ASSERT_EQ(gen.exit_code, 0) << describe(gen);
  EXPECT_EQ(gen.out.rfind("Once upon", 0), 0u) << gen.out;
}

}  // namespace
}  // namespace supra::test::train_tests
