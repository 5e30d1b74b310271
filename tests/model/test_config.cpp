// config.json parsing: OpenLM defaults (spec §7.1), HF Llama/Mistral names (§8.1), and the
// errors a user sees for a bad file.
#include <gtest/gtest.h>

#include "supra/config.h"
#include "supra/error.h"
#include "test_support.h"

namespace supra::test {
namespace {

// The published tri-ml/mistral-supra config.json (spec §7.1).
const char* kMistralSupra = R"({
  "architectures": ["OpenLMForCausalLM"], "model_type": "openlm",
  "dim": 4096, "intermediate_dim_ffn": 14336, "n_layers": 32, "n_heads": 32, "n_heads_kv": 8,
  "vocab_size": 32000, "norm_eps": 1e-5, "seq_len": 2048, "weight_tying": false,
  "apply_qk_norm": false, "qk_head_dim": 128, "v_head_dim": 128, "norm_type": "rms_norm",
  "attn_name": "linear_attn", "positional_embedding_type": "rotary", "ffn_type": "swiglu",
  "use_decay": true, "use_retnet_slopes": false, "decay_start": null})";

// Mistral-7B-v0.1's HF config.json.
const char* kMistral7B = R"({
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 32768,
  "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "transformers_version": "4.34.0.dev0", "use_cache": true, "vocab_size": 32000})";

TEST(Config, MistralSupraAsPublished) {
  const ModelConfig c = ModelConfig::parse(kMistralSupra, "config.json");
  EXPECT_EQ(c.attention, AttentionKind::Linear);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.gqa_group(), 4);
  EXPECT_DOUBLE_EQ(c.rope_base, 10000.0);  // rotary_base_frequency absent -> default
  EXPECT_DOUBLE_EQ(c.rope_scale, 1.0);
  EXPECT_FALSE(c.decay_start.has_value());
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_EQ(c.parameter_count(), 7812321280);  // spec §5
}

TEST(Config, MistralTeacherUnderHfNames) {
  const ModelConfig c = ModelConfig::parse(kMistral7B, "config.json");
  EXPECT_EQ(c.format, ConfigFormat::HuggingFace);
  EXPECT_EQ(c.attention, AttentionKind::Softmax);
  EXPECT_EQ(c.n_kv_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_EQ(c.parameter_count(), 7241732096);  // spec §5: Mistral-7B
}

TEST(Config, OpenLmDefaults) {
  const ModelConfig c = ModelConfig::parse(
      R"({"model_type": "openlm", "dim": 96, "n_layers": 1, "n_heads": 4, "vocab_size": 10,
          "qk_head_dim": 24, "v_head_dim": 24, "norm_type": "rms_norm", "attn_name": "linear_attn"})",
      "c");
  EXPECT_EQ(c.n_kv_heads, 4);          // n_heads_kv defaults to n_heads
  EXPECT_EQ(c.ffn_dim, 256);           // 256·⌈⌊8·96/3⌋/256⌉
  EXPECT_FLOAT_EQ(c.norm_eps, 1e-5f);
  EXPECT_TRUE(c.rotary);
  EXPECT_TRUE(c.use_decay);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.seq_len, 2048);
}

TEST(Config, GoldenFoldersLoad) {
  for (const char* name : {"supra_gqa", "supra_mha_qknorm", "supra_nope_wide", "mistral_softmax"}) {
    const ModelConfig c = ModelConfig::load_folder(data_dir() / "golden" / name);
    EXPECT_EQ(c.dim, 128) << name;
  }
  EXPECT_FALSE(ModelConfig::load_folder(data_dir() / "golden" / "supra_nope_wide").rotary);
  EXPECT_TRUE(ModelConfig::load_folder(data_dir() / "golden" / "supra_mha_qknorm").qk_norm);
}

void expect_error(const std::string& json, const std::string& fragment) {
  try {
    ModelConfig::parse(json, "cfg.json");
    FAIL() << "accepted: " << json;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
  }
}

TEST(Config, ErrorsNameTheFileAndTheField) {
  expect_error("{not json", "invalid JSON");
  expect_error("6e88888\xf0" "e", "invalid JSON");  // found by fuzz_config: a number overflow, not a parse_error
  expect_error(R"({"model_type": "openlm", "dim": 1e99999})", "invalid JSON");
  expect_error("[1, 2]", "JSON object");
  expect_error(R"({"model_type": "gpt2"})", "unknown architecture");
  expect_error(R"({"model_type": "openlm", "n_layers": 1})", "\"dim\" is missing");
  expect_error(R"({"model_type": "openlm", "dim": "big"})", "\"dim\" must be an integer");
  const std::string base = R"("model_type": "openlm", "dim": 64, "n_layers": 1, "n_heads": 4, "vocab_size": 10,
                              "qk_head_dim": 16, "v_head_dim": 16, "norm_type": "rms_norm")";
  expect_error("{" + base + R"(, "attn_name": "magic_attn"})", "attn_name");
  expect_error("{" + base + R"(, "attn_name": "linear_attn", "qk_head_dim": 12})", "qk_head_dim must equal");
  expect_error("{" + base + R"(, "n_heads_kv": 3})", "multiple");
  expect_error("{" + base + R"(, "ffn_type": "gelu"})", "ffn_type");
  expect_error("{" + base + R"(, "norm_type": "layer_norm"})", "norm_type");
  expect_error("{" + base + R"(, "positional_embedding_type": "llama_rotary"})", "positional_embedding_type");
  expect_error(R"({"model_type": "openlm", "dim": 96, "n_layers": 1, "n_heads": 3, "vocab_size": 10,
                   "qk_head_dim": 32, "v_head_dim": 32, "norm_type": "rms_norm", "attn_name": "linear_attn"})",
               "power of two");
  expect_error(R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4,
                   "intermediate_size": 100, "rope_scaling": {"type": "linear", "factor": 2.0}})",
               "rope_scaling");
}

TEST(Config, MissingFolderOrFile) {
  EXPECT_THROW(ModelConfig::load_folder("/nonexistent/model"), Error);
  TempDir dir;
  EXPECT_THROW(ModelConfig::load_folder(dir.path()), Error);
}

}  // namespace
}  // namespace supra::test
