// The two tools of the up-training experiment (docs/UPTRAINING.md): the from-scratch baseline
// (`linearize --from-scratch`) and the validation loss of any model on token shards
// (`perplexity --shard`), which must be the trainer's definition exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "supra/checkpoint.h"
#include "supra/model.h"
#include "train/parameters.h"
#include "train/train_log.h"
#include "train_helpers.h"

namespace supra::test::train_tests {
namespace {

double stddev(const std::vector<float>& x) {
  double s = 0, s2 = 0;
  for (float v : x) s += v, s2 += double(v) * v;
  const double n = static_cast<double>(x.size());
  return std::sqrt(s2 / n - (s / n) * (s / n));
}

TEST(ScratchInit, FollowsOpenLmInitAndKeepsTheKernelLayers) {
  TempDir dir;
  const fs::path lin = dir.path() / "lin", scratch = dir.path() / "scratch", again = dir.path() / "again";
  ASSERT_EQ(run_cli("linearize -m " + q(stories()) + " -o " + q(lin) + " --seed 3").exit_code, 0);
  const auto r = run_cli("linearize -m " + q(stories()) + " -o " + q(scratch) + " --seed 3 --from-scratch");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_EQ(run_cli("linearize -m " + q(stories()) + " -o " + q(again) + " --seed 3 --from-scratch").exit_code, 0);
  EXPECT_EQ(read_file(scratch / "model.safetensors"), read_file(again / "model.safetensors"));  // seeded
  EXPECT_EQ(read_file(scratch / "config.json"), read_file(lin / "config.json"));

  const auto fresh = supra::train::load_parameters(Checkpoint::open_folder(scratch));
  const auto teacher_mapped = supra::train::load_parameters(Checkpoint::open_folder(lin));
  ASSERT_EQ(fresh.all().size(), teacher_mapped.all().size());
  const double d_sigma = 1.0 / std::sqrt(64.0), f_sigma = 1.0 / std::sqrt(172.0);
  for (const auto& p : fresh.all()) {
    SCOPED_TRACE(p.name);
    const auto& old = teacher_mapped.at(p.name).data;
    if (p.name.find("_totrain_") != std::string::npos) {
      EXPECT_EQ(p.data, old);  // nn.Linear default, the same draw as linearize's
      continue;
    }
    EXPECT_NE(p.data, old);
    if (p.name.ends_with("norm.weight")) {
      for (float v : p.data) ASSERT_EQ(v, 1.0f);
      continue;
    }
    double sigma = d_sigma;
    if (p.name.find("out_proj") != std::string::npos || p.name.find("w3") != std::string::npos) {
      const int layer = std::stoi(p.name.substr(std::string("model.layers.").size()));
      sigma = (p.name.find("w3") != std::string::npos ? f_sigma : d_sigma) / std::sqrt(2.0 * (layer + 1));
    }
    // A ±3σ truncated normal has σ' ≈ 0.986σ; thousands of draws pin it within a few percent.
    EXPECT_NEAR(stddev(p.data), 0.986 * sigma, 0.06 * sigma);
    for (float v : p.data) ASSERT_LE(std::abs(v), 3.0 * sigma + 1e-7);
  }
  // It is a working model.
  const Model model = Model::load(scratch);
  State s = model.new_state();
  const std::vector<TokenId> ids = {1, 403, 407};
  for (float v : model.forward(ids, s, Mode::Parallel)) ASSERT_TRUE(std::isfinite(v));
}

TEST(PerplexityShard, IsTheTrainersValidationLoss) {
  TempDir dir;
  const fs::path shard = dir.path() / "val.bin";
  write_random_shard(shard, 512, 30, 11);
  // Two steps on the shard, validated after the last one on 2 batches of 4 sequences: the
  // exported model's loss on those 8 sequences is what the trainer logged.
  const fs::path run = dir.path() / "run";
  const CliResult trained = run_cli("train -m " + q(golden("supra_gqa")) + " --data " + q(shard) + " --val-data " +
                                    q(shard) + " --out " + q(run) +
                                    " --seq-len 40 --batch-size 4 --steps 2 --eval-batches 2 --seed 3 --threads 1 --no-progress");
  ASSERT_EQ(trained.exit_code, 0) << describe(trained);
  const auto log = supra::train::parse_csv(read_file(run / "train_log.csv"), "train_log.csv");
  ASSERT_TRUE(log.back().val_loss.has_value());
  const auto r = run_cli("perplexity -m " + q(run / "model") + " --shard " + q(shard) +
                         " --seq-len 40 --max-sequences 8 --json");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto got = nlohmann::json::parse(r.out);
  EXPECT_EQ(got["sequences"].get<int>(), 8);
  EXPECT_EQ(got["scored_tokens"].get<double>(), 8 * 40);
  EXPECT_NEAR(got["cross_entropy"].get<double>(), *log.back().val_loss, 1e-6);  // float rounding of other row counts
  EXPECT_NEAR(got["perplexity"].get<double>(), std::exp(*log.back().val_loss), 1e-5);

  expect_cli_error(run_cli("perplexity -m " + q(golden("supra_gqa")) + " --shard " + q(shard) + " -f " + q(shard)),
                   "either -f/--file or --shard");
  expect_cli_error(run_cli("perplexity -m " + q(golden("supra_gqa")) + " --shard " + q(shard) + " --seq-len 100000"),
                   "fewer tokens than one sequence");
}

}  // namespace
}  // namespace supra::test::train_tests
