// Helpers of the training tests: model folders of the repository, shell quoting, the CLI error
// contract, and token shards made on the spot.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "supra/tokenizer.h"
#include "test_support.h"
#include "train/random.h"
#include "train/token_shard.h"

namespace supra::test::train_tests {

namespace fs = std::filesystem;

inline fs::path golden(const std::string& name) { return data_dir() / "golden" / name; }
inline fs::path stories() { return data_dir().parent_path().parent_path() / "models" / "stories260K"; }

inline std::string q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
inline std::string q(const fs::path& p) { return q(p.string()); }

inline std::string describe(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout ---\n" + r.out.substr(0, 2000) + "\n--- stderr ---\n" +
         r.err.substr(0, 2000);
}

// The CLI error contract: exit 1, one "error: ..." line on stderr naming `needle`.
inline void expect_cli_error(const CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << describe(r);
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected \"" << needle << "\"\n" << describe(r);
}

// A shard of `documents` documents of random ids in [3, vocab) between BOS (1) and EOS (2),
// with lengths in [min_len, max_len]. Returns the tokens written, in order.
inline std::vector<TokenId> write_random_shard(const fs::path& path, int vocab, int documents, std::uint64_t seed,
                                               int min_len = 20, int max_len = 80) {
  supra::train::SplitMix64 rng(seed);
  supra::train::ShardWriter w(path, vocab);
  std::vector<TokenId> all;
  for (int d = 0; d < documents; ++d) {
    std::vector<TokenId> doc{1};
    const int n = min_len + static_cast<int>(rng.below(static_cast<std::uint64_t>(max_len - min_len + 1)));
    for (int i = 0; i < n; ++i) doc.push_back(3 + static_cast<TokenId>(rng.below(static_cast<std::uint64_t>(vocab - 3))));
    doc.push_back(2);
    w.add_document(doc);
    all.insert(all.end(), doc.begin(), doc.end());
  }
  w.finish();
  return all;
}

// Documents that count upwards (modulo 50) from a random start: easy to learn, so the loss
// must fall well below that of uniform guessing.
inline void write_counting_shard(const fs::path& path, int documents, std::uint64_t seed) {
  supra::train::SplitMix64 rng(seed);
  supra::train::ShardWriter w(path, 512);
  for (int d = 0; d < documents; ++d) {
    std::vector<TokenId> doc{1};
    auto x = static_cast<TokenId>(rng.below(50));
    const int n = 20 + static_cast<int>(rng.below(40));
    for (int i = 0; i < n; ++i, x = (x + 1) % 50) doc.push_back(3 + x);
    doc.push_back(2);
    w.add_document(doc);
  }
  w.finish();
}

// Runs of 8 steps of the tiny SUPRA test model on a counting shard (about a second each), with
// checkpoints at steps 4 and 8: the subject of the failure tests.
class SmallRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Spinning OpenMP workers on a shared machine only waste time; results do not depend on it.
    ASSERT_EQ(setenv("OMP_WAIT_POLICY", "passive", 0), 0);
    shard_ = tmp_.path() / "data.bin";
    write_counting_shard(shard_, 60, 5);
  }

  // `supra train` arguments for the run folder `out`; later flags in `extra` win.
  std::string args(const fs::path& out, const std::string& extra = "") const {
    return "train -m " + q(golden("supra_gqa")) + " --data " + q(shard_) + " --out " + q(out) +
           " --val-fraction 0.1 --seq-len 32 --batch-size 4 --steps 8 --lr 2e-3 --end-lr 1e-4 --warmup 2"
           " --eval-every 4 --eval-batches 1 --checkpoint-every 4 --seed 11 --threads 1 --no-progress " +
           extra;
  }

  // A finished run in tmp/<name>: checkpoints step-00000004 and step-00000008 (latest), model/.
  fs::path finished_run(const std::string& name) const {
    const fs::path out = tmp_.path() / name;
    const CliResult r = run_cli(args(out));
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return out;
  }

  TempDir tmp_;
  fs::path shard_;
};

}  // namespace supra::test::train_tests
