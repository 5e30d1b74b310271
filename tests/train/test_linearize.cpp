// Linearisation (spec §8.1): the name mapping, the new layers' initialisation, determinism,
// and that the result loads and runs.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "supra/checkpoint.h"
#include "supra/config.h"
#include "supra/error.h"
#include "supra/model.h"
#include "train/linearize.h"
#include "train_helpers.h"

namespace supra::test::train_tests {
namespace {

using supra::train::linearize_folder;
using supra::train::linearize_parameters;
using supra::train::ParameterSet;

std::vector<float> tensor(const Checkpoint& c, const std::string& name) { return to_f32(c.get(name)); }

std::vector<float> cat(std::initializer_list<std::vector<float>> parts) {
  std::vector<float> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(Linearize, HfLlamaTensorsAreCopiedUnderOpenLmNames) {
  const ModelConfig teacher = ModelConfig::load_folder(stories());
  const Checkpoint w = Checkpoint::open_folder(stories());
  const ParameterSet p = linearize_parameters(teacher, w, 7);
  EXPECT_EQ(p.at("model.tok_embeddings.weight").data, tensor(w, "model.embed_tokens.weight"));
  EXPECT_EQ(p.at("model.norm.weight").data, tensor(w, "model.norm.weight"));
  EXPECT_EQ(p.at("model.output.weight").data, tensor(w, "lm_head.weight"));
  for (int i = 0; i < teacher.n_layers; ++i) {
    const std::string hf = "model.layers." + std::to_string(i) + ".", ol = hf;
    EXPECT_EQ(p.at(ol + "attention.in_proj.weight").data,
              cat({tensor(w, hf + "self_attn.q_proj.weight"), tensor(w, hf + "self_attn.k_proj.weight"),
                   tensor(w, hf + "self_attn.v_proj.weight")}));
    EXPECT_EQ(p.at(ol + "attention.in_proj.weight").shape, (std::vector<std::int64_t>{64 + 32 + 32, 64}));
    EXPECT_EQ(p.at(ol + "attention.out_proj.weight").data, tensor(w, hf + "self_attn.o_proj.weight"));
    EXPECT_EQ(p.at(ol + "feed_forward.w12.weight").data,
              cat({tensor(w, hf + "mlp.gate_proj.weight"), tensor(w, hf + "mlp.up_proj.weight")}));
    EXPECT_EQ(p.at(ol + "feed_forward.w3.weight").data, tensor(w, hf + "mlp.down_proj.weight"));
    EXPECT_EQ(p.at(ol + "attention_norm.weight").data, tensor(w, hf + "input_layernorm.weight"));
    EXPECT_EQ(p.at(ol + "ffn_norm.weight").data, tensor(w, hf + "post_attention_layernorm.weight"));
    // GQA (8 query heads, 4 kv heads, dh 8): both kernels, square over all heads (spec §3.2).
    EXPECT_EQ(p.at(ol + "attention._totrain_embed.weight").shape, (std::vector<std::int64_t>{64, 64}));
    EXPECT_EQ(p.at(ol + "attention._totrain_embed.bias").shape, (std::vector<std::int64_t>{64}));
    EXPECT_EQ(p.at(ol + "attention._totrain_embed_kv.weight").shape, (std::vector<std::int64_t>{32, 32}));
    EXPECT_EQ(p.at(ol + "attention._totrain_embed_kv.bias").shape, (std::vector<std::int64_t>{32}));
  }
  // Nothing else: 3 global tensors + 10 per layer.
  EXPECT_EQ(p.all().size(), 3u + 10u * static_cast<std::size_t>(teacher.n_layers));
}

// nn.Linear's default init: U(−1/√fan_in, 1/√fan_in) for weight and bias.
void expect_uniform(const std::vector<float>& v, double bound, const std::string& what) {
  double mean = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
  for (float x : v) mean += x, sq += double(x) * x, lo = std::min(lo, double(x)), hi = std::max(hi, double(x));
  mean /= double(v.size());
  sq /= double(v.size());
  EXPECT_GE(lo, -bound) << what;
  EXPECT_LT(hi, bound) << what;
  if (v.size() >= 1000) {  // moments of U(−b, b): mean 0, E[x²] = b²/3
    EXPECT_NEAR(mean, 0.0, 0.05 * bound) << what;
    EXPECT_NEAR(sq, bound * bound / 3, 0.05 * bound * bound) << what;
    EXPECT_LT(lo, -0.95 * bound) << what;
    EXPECT_GT(hi, 0.95 * bound) << what;
  }
}

TEST(Linearize, NewKernelLayersHaveTorchLinearDefaultInit) {
  const ModelConfig teacher = ModelConfig::load_folder(stories());
  const ParameterSet p = linearize_parameters(teacher, Checkpoint::open_folder(stories()), 1);
  const std::string l = "model.layers.2.attention.";
  expect_uniform(p.at(l + "_totrain_embed.weight").data, 1 / std::sqrt(64.0), "query kernel weight");
  expect_uniform(p.at(l + "_totrain_embed.bias").data, 1 / std::sqrt(64.0), "query kernel bias");
  expect_uniform(p.at(l + "_totrain_embed_kv.weight").data, 1 / std::sqrt(32.0), "key kernel weight");
  expect_uniform(p.at(l + "_totrain_embed_kv.bias").data, 1 / std::sqrt(32.0), "key kernel bias");
  // Every layer draws its own values.
  EXPECT_NE(p.at("model.layers.0.attention._totrain_embed.weight").data, p.at(l + "_totrain_embed.weight").data);
}

TEST(Linearize, SameSeedSameModelOtherSeedOtherKernels) {
  const ModelConfig teacher = ModelConfig::load_folder(stories());
  const Checkpoint w = Checkpoint::open_folder(stories());
  const ParameterSet a = linearize_parameters(teacher, w, 42), b = linearize_parameters(teacher, w, 42),
                     c = linearize_parameters(teacher, w, 43);
  for (std::size_t i = 0; i < a.all().size(); ++i) {
    EXPECT_EQ(a.all()[i].data, b.all()[i].data) << a.all()[i].name;
    const bool is_new = a.all()[i].name.find("_totrain_") != std::string::npos;
    if (is_new)
      EXPECT_NE(a.all()[i].data, c.all()[i].data) << a.all()[i].name;
    else
      EXPECT_EQ(a.all()[i].data, c.all()[i].data) << a.all()[i].name;
  }
}

TEST(Linearize, FolderLoadsAsSupraModelAndRuns) {
  TempDir tmp;
  const fs::path out = tmp.path() / "supra";
  linearize_folder(stories(), out, 3);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json",
                        "special_tokens_map.json", "generation_config.json"})
    EXPECT_TRUE(fs::is_regular_file(out / f)) << f;
  // Nothing left behind but the folder itself.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++entries;
  EXPECT_EQ(entries, 1u);

  const auto j = nlohmann::json::parse(read_file(out / "config.json"));
  EXPECT_EQ(j["architectures"][0], "OpenLMForCausalLM");
  EXPECT_EQ(j["model_type"], "openlm");
  EXPECT_EQ(j["attn_name"], "linear_attn");
  EXPECT_EQ(j["dim"], 64);
  EXPECT_EQ(j["n_heads"], 8);
  EXPECT_EQ(j["n_heads_kv"], 4);
  EXPECT_EQ(j["qk_head_dim"], 8);
  EXPECT_EQ(j["v_head_dim"], 8);
  EXPECT_EQ(j["intermediate_dim_ffn"], 172);
  EXPECT_EQ(j["norm_eps"], 1e-5);
  EXPECT_EQ(j["use_decay"], true);
  EXPECT_EQ(j["weight_tying"], false);
  EXPECT_TRUE(j["decay_start"].is_null());

  const Model m = Model::load(out);
  EXPECT_EQ(m.config().attention, AttentionKind::Linear);
  State s = m.new_state();
  const std::vector<TokenId> ids{1, 403, 407, 261, 378};
  const std::vector<float> logits = m.forward(ids, s, Mode::Parallel, LogitsWanted::All);
  ASSERT_EQ(logits.size(), ids.size() * 512);
  for (float x : logits) ASSERT_TRUE(std::isfinite(x));
}

TEST(Linearize, OpenLmSoftmaxTeacherKeepsItsTensors) {
  TempDir tmp;
  linearize_folder(golden("mistral_softmax"), tmp.path() / "supra", 0);
  const Checkpoint teacher = Checkpoint::open_folder(golden("mistral_softmax"));
  const Checkpoint out = Checkpoint::open_folder(tmp.path() / "supra");
  for (const std::string& name : teacher.names()) EXPECT_EQ(tensor(out, name), tensor(teacher, name)) << name;
  EXPECT_TRUE(out.has("model.layers.3.attention._totrain_embed_kv.bias"));
  EXPECT_NO_THROW(Model::load(tmp.path() / "supra"));
}

TEST(Linearize, RefusesSupraModelsAndExistingOutput) {
  TempDir tmp;
  try {
    linearize_folder(golden("supra_gqa"), tmp.path() / "x", 0);
    ADD_FAILURE() << "a SUPRA model was linearised";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already a SUPRA"), std::string::npos) << e.what();
  }
  fs::create_directory(tmp.path() / "taken");
  write_file(tmp.path() / "taken" / "keep.txt", "mine");
  try {
    linearize_folder(stories(), tmp.path() / "taken", 0);
    ADD_FAILURE() << "an existing folder was overwritten";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(tmp.path() / "taken" / "keep.txt"), "mine");
}

TEST(Linearize, CommandLine) {
  TempDir tmp;
  const CliResult ok = run_cli("linearize -m " + q(stories()) + " -o " + q(tmp.path() / "a") + " --seed 5");
  ASSERT_EQ(ok.exit_code, 0) << describe(ok);
  linearize_folder(stories(), tmp.path() / "b", 5);
  EXPECT_EQ(read_file(tmp.path() / "a" / "model.safetensors"), read_file(tmp.path() / "b" / "model.safetensors"));
  expect_cli_error(run_cli("linearize -m " + q(tmp.path() / "missing") + " -o " + q(tmp.path() / "c")),
                   "-m: the folder " + (tmp.path() / "missing").string() + " does not exist");
  expect_cli_error(run_cli("linearize -m " + q(tmp.path() / "a") + " -o " + q(tmp.path() / "c")), "already a SUPRA");
  const CliResult no_out = run_cli("linearize -m " + q(stories()));
  EXPECT_NE(no_out.exit_code, 0);
  EXPECT_NE(no_out.err.find("--out"), std::string::npos) << describe(no_out);
}

}  // namespace
}  // namespace supra::test::train_tests

namespace supra::test::train_tests {
namespace {

// The shared asset copy of the teacher (CI has ../shared): the same model as the repository's.
TEST(Linearize, SharedStoriesTeacherGivesTheSameModel) {
  const auto shared = shared_dir();
  if (!shared || !fs::exists(*shared / "assets" / "models" / "stories260K-hf")) GTEST_SKIP() << "no ../shared assets";
  TempDir tmp;
  linearize_folder(*shared / "assets" / "models" / "stories260K-hf", tmp.path() / "a", 9);
  linearize_folder(stories(), tmp.path() / "b", 9);
  EXPECT_EQ(read_file(tmp.path() / "a" / "model.safetensors"), read_file(tmp.path() / "b" / "model.safetensors"));
  EXPECT_EQ(read_file(tmp.path() / "a" / "config.json"), read_file(tmp.path() / "b" / "config.json"));
}

}  // namespace
}  // namespace supra::test::train_tests
