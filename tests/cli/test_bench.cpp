// `supra bench` end to end: the JSON contract (keys, the depths asked for, the weight bytes of
// the shape), the batched decode (--batch), a loaded model folder, and its bad flags. Speeds are
// never asserted.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cli_helpers.h"

namespace supra::test::cli {
namespace {

const char* kFast = " --prefill-tokens 8 --decode-tokens 2";

nlohmann::json run_json(const std::string& args) {
  const CliResult r = run_cli("bench " + args + " --json");
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  return nlohmann::json::parse(r.out);
}

void expect_contract(const nlohmann::json& j) {
  for (const char* key : {"shape", "dtype", "threads", "prefill_tok_s", "decode_tok_s", "weight_bytes_per_token",
                          "read_bandwidth_gb_s", "decode_bandwidth_fraction", "peak_rss_bytes"})
    EXPECT_TRUE(j.contains(key)) << key << " missing in " << j.dump();
  EXPECT_GT(j.at("prefill_tok_s").get<double>(), 0.0);
  EXPECT_GT(j.at("read_bandwidth_gb_s").get<double>(), 0.0);
  // The median lies within the passes' spread.
  EXPECT_LE(j.at("read_bandwidth_min_gb_s").get<double>(), j.at("read_bandwidth_gb_s").get<double>());
  EXPECT_GE(j.at("read_bandwidth_max_gb_s").get<double>(), j.at("read_bandwidth_gb_s").get<double>());
  EXPECT_EQ(j.at("read_bandwidth_passes").get<int>(), 10);
  EXPECT_GT(j.at("peak_rss_bytes").get<double>(), 0.0);
  EXPECT_GE(j.at("threads").get<int>(), 1);
}

TEST(CliBench, SyntheticJsonHasEveryKeyAndDefaultDepths) {
  const nlohmann::json j = run_json(std::string("--synthetic tiny") + kFast);
  expect_contract(j);
  EXPECT_EQ(j.at("shape"), "tiny");
  EXPECT_EQ(j.at("dtype"), "bf16");
  EXPECT_TRUE(j.at("prefill_gemm").get<std::string>().starts_with("oneDNN ")) << j.dump();
  for (const char* depth : {"0", "1024", "4096", "16384"})
    EXPECT_GT(j.at("decode_tok_s").at(depth).get<double>(), 0.0) << depth;
  EXPECT_FALSE(j.contains("batch_decode_tok_s")) << "measured only with --batch";
  // tiny: per layer wq 64×64, wk 32×64, wv 32×64, wo 64×64, gate and up 96×64, down 64×96,
  // feature maps 64×64 and 32×32; two layers, the 256×64 output and one embedding row; 2 bytes each.
  const std::int64_t per_layer = 4096 + 2048 + 2048 + 4096 + 3 * 6144 + 4096 + 1024;
  EXPECT_EQ(j.at("weight_bytes_per_token").get<std::int64_t>(), (2 * per_layer + 256 * 64 + 64) * 2);
}

TEST(CliBench, QuantizedSyntheticCountsBlockBytes) {
  const nlohmann::json j = run_json(std::string("--synthetic tiny --dtype q4 --depths 0,5") + kFast);
  expect_contract(j);
  EXPECT_EQ(j.at("decode_tok_s").size(), 2u);
  const std::int64_t per_layer = 4096 + 2048 + 2048 + 4096 + 3 * 6144 + 4096 + 1024;
  // Q4_0 blocks of 32 weights take 18 bytes; the output projection is Q8_0 (34 bytes a block).
  EXPECT_EQ(j.at("weight_bytes_per_token").get<std::int64_t>(), (2 * per_layer + 64) / 32 * 18 + 256 * 64 / 32 * 34);
}

TEST(CliBench, LoadedModelFolder) {
  const nlohmann::json j = run_json("-m " + q(golden("supra_gqa")) + " --depths 0,40" + kFast);
  expect_contract(j);
  EXPECT_TRUE(j.at("decode_tok_s").contains("40"));
}

TEST(CliBench, TableOutput) {
  const CliResult r = run_cli(std::string("bench --synthetic tiny --depths 0") + kFast);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("decode at depth 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("read bandwidth"), std::string::npos) << r.out;
}

TEST(CliBench, BatchedDecodeKeyedByBatchSizeAndDepth) {
  const nlohmann::json j = run_json(std::string("--synthetic tiny --depths 0,16 --batch 1,3,17") + kFast);
  expect_contract(j);
  EXPECT_EQ(j.at("batch_decode_depth"), 0);
  const nlohmann::json& at_first = j.at("batch_decode_tok_s");
  ASSERT_EQ(at_first.size(), 3u) << j.dump();
  for (const char* n : {"1", "3", "17"}) {
    EXPECT_GT(at_first.at(n).get<double>(), 0.0) << n;
    EXPECT_GT(j.at("batch_decode_tok_s_by_depth").at("16").at(n).get<double>(), 0.0) << n;
  }
  EXPECT_EQ(j.at("batch_decode_tok_s_by_depth").at("0"), at_first);
  EXPECT_TRUE(j.at("batch_decode_skipped").empty());
}

TEST(CliBench, ProfileTimesEveryOperationOfThePrefillAndTheFirstDepthsDecodes) {
  const std::string args = std::string("--synthetic tiny --depths 0,16 --batch 1,3 --profile") + kFast;
  const nlohmann::json j = run_json(args);
  const nlohmann::json& profile = j.at("profile_s_per_step");
  ASSERT_EQ(profile.size(), 4u) << j.dump();  // the prefill; the first depth only: decode, batch 1, batch 3
  for (const char* label : {"prefill", "decode", "batch 1", "batch 3"}) {
    double total = 0;
    for (const char* op : {"embedding", "rmsnorm", "q/k/v projections", "feature maps, rotary", "attention core",
                           "groupnorm", "attention output projection", "ffn projections", "swiglu, residual adds",
                           "final norm, logits"}) {
      const double s = profile.at(label).at(op).get<double>();
      EXPECT_GE(s, 0.0) << label << " " << op;
      total += s;
    }
    EXPECT_GT(total, 0.0) << label;
  }
  const CliResult table = run_cli("bench " + args);
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  EXPECT_NE(table.out.find("profile"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("attention core"), std::string::npos) << table.out;
  EXPECT_FALSE(run_json(std::string("--synthetic tiny --depths 0") + kFast).contains("profile_s_per_step"));
}

TEST(CliBench, BatchedDecodeOverTheStateBoundIsSkipped) {
  // The softmax golden's KV cache takes 2 KiB a token: two sequences after 1000 tokens exceed
  // 1 MiB, at depth 0 they do not.
  const std::string args =
      "-m " + q(golden("mistral_softmax")) + " --depths 0,1000 --batch 1,2 --batch-state-mib 1" + kFast;
  const nlohmann::json j = run_json(args);
  EXPECT_GT(j.at("batch_decode_tok_s").at("2").get<double>(), 0.0) << j.dump();
  EXPECT_TRUE(j.at("batch_decode_tok_s_by_depth").at("1000").at("2").is_null()) << j.dump();
  ASSERT_EQ(j.at("batch_decode_skipped").size(), 2u) << j.dump();
  EXPECT_NE(j.at("batch_decode_skipped").at(1).get<std::string>().find("2 sequences at depth 1000"),
            std::string::npos);
  const CliResult table = run_cli("bench " + args);
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  EXPECT_NE(table.out.find("batched decode"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("skipped: the states of 2 sequences at depth 1000"), std::string::npos) << table.out;
}

TEST(CliBench, OpenMPWaitsArePassiveUnlessTheUserChoseAPolicy) {
  // GNU OpenMP's default spinning is ruinous beside another job (docs/PERFORMANCE.md), so supra
  // starts itself again with passive waits; a policy the user set is kept.
  const std::string args = std::string("bench --synthetic tiny --depths 0 --json") + kFast;
  const CliResult unset = run_cli(args, "env -u OMP_WAIT_POLICY ");
  ASSERT_EQ(unset.exit_code, 0) << describe(unset);
  EXPECT_EQ(nlohmann::json::parse(unset.out).at("openmp_waits"), "passive");
  const CliResult active = run_cli(args, "env OMP_WAIT_POLICY=active ");
  ASSERT_EQ(active.exit_code, 0) << describe(active);
  EXPECT_EQ(nlohmann::json::parse(active.out).at("openmp_waits"), "active");
}

TEST(CliBench, BadFlagsAreErrors) {
  expect_error(run_cli("bench --synthetic nope"), "known: mistral-supra-7b");
  expect_error(run_cli("bench --synthetic tiny --dtype q3"), "--dtype");
  expect_error(run_cli("bench"), "exactly one of");
  expect_error(run_cli("bench --synthetic tiny -m " + q(golden("supra_gqa"))), "exactly one of");
  expect_error(run_cli("bench -m " + q(golden("supra_gqa")) + " --dtype q8"), "--synthetic models only");
  expect_error(run_cli("bench --synthetic tiny --depths 0,x"), "--depths");
  expect_error(run_cli("bench --synthetic tiny --decode-tokens 0"), "--decode-tokens");
  expect_error(run_cli("bench --synthetic tiny --depths 0,"), "--depths");
  expect_error(run_cli("bench --synthetic tiny --batch ''"), "--batch is empty");
  for (const char* batch : {"0", "2,x", "-1", "1,"})
    expect_error(run_cli(std::string("bench --synthetic tiny --batch ") + batch), "--batch must be");
  expect_error(run_cli("bench --synthetic tiny --batch 1025"), "at most 1024");
  expect_error(run_cli("bench --synthetic tiny --batch-state-mib -1"), "--batch-state-mib");
  expect_error(run_cli("bench --synthetic tiny --batch-state-mib 1048577"), "--batch-state-mib");
}

}  // namespace
}  // namespace supra::test::cli
