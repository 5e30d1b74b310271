// `supra logits`, `supra tokenize` and `supra info` end to end.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cli_helpers.h"
#include "supra/npy.h"
#include "supra/checkpoint.h"
#include "supra/tensor.h"

namespace supra::test::cli {
namespace {

// Row 0 of golden.safetensors' input_ids_short [2, 37] and of logits_parallel_short [2, 37, V].
struct GoldenRow {
  std::vector<std::int64_t> ids;
  std::vector<float> logits;
  std::int64_t vocab = 0;
};

GoldenRow golden_row0(const fs::path& dir) {
  const Checkpoint g = Checkpoint::open_file(dir / "golden.safetensors");
  const TensorView& ids = g.get("input_ids_short");
  const TensorView& logits = g.get("logits_parallel_short");
  EXPECT_EQ(ids.shape.size(), 2u);
  EXPECT_EQ(logits.shape.size(), 3u);
  const std::int64_t T = ids.shape.at(1), V = logits.shape.at(2);
  EXPECT_EQ(logits.shape.at(1), T);
  GoldenRow row;
  const std::vector<std::int64_t> all_ids = to_i64(ids);
  row.ids.assign(all_ids.begin(), all_ids.begin() + T);
  const std::vector<float> all_logits = to_f32(logits);
  row.logits.assign(all_logits.begin(), all_logits.begin() + T * V);
  row.vocab = V;
  return row;
}

std::string join(const std::vector<std::int64_t>& ids) {
  std::string s;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(ids[i]);
  }
  return s;
}

void check_logits_against_golden(const std::string& model) {
  const GoldenRow ref = golden_row0(golden(model));
  ASSERT_EQ(ref.ids.size(), 37u);
  ASSERT_EQ(ref.vocab, 512);
  TempDir tmp;
  std::vector<std::vector<float>> per_mode;
  for (const char* mode : {"parallel", "recurrent", "hybrid"}) {
    SCOPED_TRACE(model + " --mode " + mode);
    const fs::path out = tmp.path() / (std::string(mode) + ".npy");
    const CliResult r = run_cli("logits -m " + q(golden(model)) + " --ids " + join(ref.ids) + " --mode " + mode +
                                " -o " + q(out));
    ASSERT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_TRUE(r.out.empty()) << r.out;
    const NpyF32 npy = read_npy_f32(out);
    ASSERT_EQ(npy.shape, (std::vector<std::int64_t>{37, 512}));
    const Diff d = compare(npy.data, ref.logits);
    EXPECT_LE(d.rel(), 1e-5) << "max |diff| " << d.max_abs << " at " << d.worst_index << ", max |ref| "
                             << d.ref_max_abs;
    per_mode.push_back(npy.data);
  }
  ASSERT_EQ(per_mode.size(), 3u);
  for (std::size_t m = 1; m < per_mode.size(); ++m) {
    const Diff d = compare(per_mode[m], per_mode[0]);
    EXPECT_LE(d.rel(), 1e-5) << "mode " << m << " vs parallel: max |diff| " << d.max_abs;
  }
}

TEST(CliLogits, SupraGqaMatchesGoldenInEveryMode) { check_logits_against_golden("supra_gqa"); }

TEST(CliLogits, MistralSoftmaxMatchesGoldenInEveryMode) { check_logits_against_golden("mistral_softmax"); }

TEST(CliLogits, ModeDefaultsToParallelAndOneTokenWorks) {
  TempDir tmp;
  const CliResult r = run_cli("logits -m " + q(golden("supra_gqa")) + " --ids 1 -o " + q(tmp.path() / "one.npy"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const NpyF32 npy = read_npy_f32(tmp.path() / "one.npy");
  EXPECT_EQ(npy.shape, (std::vector<std::int64_t>{1, 512}));
}

// logits -p TEXT reads the ids `supra tokenize` prints for TEXT: the same file as --ids.
TEST(CliLogits, PromptTextEqualsItsTokenIds) {
  TempDir tmp;
  const CliResult ids = run_cli("logits -m " + q(stories()) + " --ids 1,403,407,261,378 -o " + q(tmp.path() / "ids.npy"));
  ASSERT_EQ(ids.exit_code, 0) << describe(ids);
  const CliResult text = run_cli("logits -m " + q(stories()) + " -p 'Once upon a time' -o " + q(tmp.path() / "text.npy"));
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_EQ(read_file(tmp.path() / "text.npy"), read_file(tmp.path() / "ids.npy"));
  // Exactly one of them.
  expect_error(run_cli("logits -m " + q(stories()) + " -p hi --ids 1 -o " + q(tmp.path() / "both.npy")), "exactly one");
  EXPECT_FALSE(fs::exists(tmp.path() / "both.npy"));
}

TEST(CliTokenize, StoriesPromptWithAndWithoutBos) {
  const CliResult r = run_cli("tokenize -m " + q(stories()) + " -p 'Once upon a time'");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "1 403 407 261 378\n");

  const CliResult n = run_cli("tokenize -m " + q(stories()) + " -p 'Once upon a time' --no-bos");
  ASSERT_EQ(n.exit_code, 0) << describe(n);
  EXPECT_EQ(n.out, "403 407 261 378\n");
}

TEST(CliTokenize, DefaultModelAndEmptyText) {
  const CliResult r = run_cli("tokenize -p 'Once upon a time'");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "1 403 407 261 378\n");

  const CliResult e = run_cli("tokenize -p ''");
  ASSERT_EQ(e.exit_code, 0) << describe(e);
  EXPECT_EQ(e.out, "1\n");
}

// The real Mistral-SUPRA config.json (spec §7.1), with no weights beside it.
const char* const kMistralSupraConfig = R"({
  "architectures": ["OpenLMForCausalLM"],
  "model_type": "openlm",
  "dim": 4096, "intermediate_dim_ffn": 14336, "n_layers": 32, "n_heads": 32, "n_heads_kv": 8,
  "vocab_size": 32000, "norm_eps": 1e-5, "seq_len": 2048, "weight_tying": false,
  "apply_qk_norm": false, "qk_head_dim": 128, "v_head_dim": 128, "norm_type": "rms_norm",
  "attn_name": "linear_attn", "positional_embedding_type": "rotary", "ffn_type": "swiglu",
  "use_decay": true, "use_retnet_slopes": false, "decay_start": null
})";

TEST(CliInfo, MistralSupraConfigWithoutWeights) {
  TempDir tmp;
  write_file(tmp.path() / "config.json", kMistralSupraConfig);
  const CliResult r = run_cli("info -m " + q(tmp.path()));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("parameters      7.81 B (7812321280)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SUPRA linear attention"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not readable here"), std::string::npos) << r.out;
}

// Counts in llama.cpp's units: the shipped model has 318,880 parameters.
TEST(CliInfo, ParameterCountInSensibleUnits) {
  const CliResult r = run_cli("info");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("parameters      318.9 K (318880)\n"), std::string::npos) << r.out;
}

TEST(CliInfo, GoldenSupraGqaReportsF32Weights) {
  const CliResult r = run_cli("info -m " + q(golden("supra_gqa")));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("F32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("model.safetensors"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("not readable here"), std::string::npos) << r.out;
}

TEST(CliInfo, Bf16FolderReportsBf16Weights) {
  const CliResult r = run_cli("info -m " + q(golden("supra_gqa-bf16")));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("BF16"), std::string::npos) << r.out;
}

TEST(CliInfo, SoftmaxTeacherReportsAKvCache) {
  const CliResult r = run_cli("info -m " + q(golden("mistral_softmax")));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("softmax attention"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("KV cache"), std::string::npos) << r.out;
}

TEST(CliTokenize, PiecesShowEachIdWithItsPiece) {
  const CliResult r = run_cli("tokenize -m " + q(stories()) + " -p 'Once upon' --pieces");
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "     1 -> '<s>'\n   403 -> '\u2581Once'\n   407 -> '\u2581upon'\n");
}

// detokenize undoes tokenize: from its comma list or from tokenize's own output.
TEST(CliDetokenize, RoundTripWithTokenize) {
  const std::string text = "Once upon a time, Lily saw a big dog. \"Hello!\" she said.";
  const CliResult ids = run_cli("tokenize -p " + q(text));
  ASSERT_EQ(ids.exit_code, 0) << describe(ids);
  const CliResult back = run_cli("detokenize --ids " + q(ids.out));
  ASSERT_EQ(back.exit_code, 0) << describe(back);
  EXPECT_EQ(back.out, text + "\n");
  std::string commas = ids.out.substr(0, ids.out.size() - 1);
  for (char& c : commas)
    if (c == ' ') c = ',';
  EXPECT_EQ(run_cli("detokenize --ids " + commas).out, text + "\n");
  EXPECT_EQ(run_cli("detokenize -m " + q(stories()) + " --ids 1,403,407,261,378").out, "Once upon a time\n");
}

TEST(CliDetokenize, BadIdsAreErrors) {
  expect_error(run_cli("detokenize --ids 1,99999"), "99999");
  expect_error(run_cli("detokenize --ids 1,-3"), "-3");
  expect_error(run_cli("detokenize --ids 1,,2"), "--ids");
  expect_error(run_cli("detokenize --ids 1,x"), "--ids");
  expect_error(run_cli("detokenize --ids ' '"), "--ids");
}

}  // namespace
}  // namespace supra::test::cli
