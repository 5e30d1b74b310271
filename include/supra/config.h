// ModelConfig: the architecture of a model folder, read from its config.json.
//
// Two families of config.json are understood:
//   * OpenLM (`model_type: "openlm"`, spec §7.1): SUPRA when `attn_name` is "linear_attn",
//     the softmax teacher otherwise. Every field missing from the file takes the default of
//     open_lm's `Params`, written next to the field below.
//   * HF `LlamaForCausalLM` / `MistralForCausalLM` (`model_type` "llama" / "mistral"):
//     softmax models under HF key names (spec §8.1 maps them).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace supra {

enum class ConfigFormat { OpenLM, HuggingFace };
enum class AttentionKind { Linear, Softmax };  // Linear = SUPRA (§3), Softmax = teacher (§4)

struct ModelConfig {
  ConfigFormat format = ConfigFormat::OpenLM;
  std::string model_type;  // "openlm", "llama", "mistral"
  AttentionKind attention = AttentionKind::Linear;

  int dim = 0;              // D            (`dim`; HF `hidden_size`)
  int n_layers = 0;         // L            (`n_layers`; HF `num_hidden_layers`)
  int n_heads = 0;          // H            (`n_heads`; HF `num_attention_heads`)
  int n_kv_heads = 0;       // Hkv          (`n_heads_kv`, default H; HF `num_key_value_heads`)
  int head_dim = 0;         // dh: per-head width of q/k projections and of rotary (D/H; HF `head_dim`)
  int qk_dim = 0;           // dqk: SUPRA feature width per head (`qk_head_dim`, required for OpenLM)
  int v_dim = 0;            // dv           (`v_head_dim`, required for OpenLM)
  int ffn_dim = 0;          // F (`intermediate_dim_ffn`, default 256·⌈⌊8D/3⌋/256⌉; HF `intermediate_size`)
  int vocab_size = 0;       // V
  float norm_eps = 1e-5f;   // `norm_eps` (default 1e-5); HF `rms_norm_eps`
  int seq_len = 2048;       // training context (`seq_len`); not a limit
  bool rotary = true;       // `positional_embedding_type` "rotary" (default) or "none"
  double rope_base = 10000; // `rotary_base_frequency` (default 10000); HF `rope_theta`
  double rope_scale = 1.0;  // `rotary_scale` (default 1.0)
  bool qk_norm = false;     // `apply_qk_norm` (default false)
  bool use_decay = true;    // `use_decay` (default true)
  bool retnet_slopes = false;           // `use_retnet_slopes` (default false)
  std::optional<double> decay_start;    // `decay_start` (default null)
  bool tie_embeddings = false;          // `weight_tying` (default false); HF `tie_word_embeddings`
  std::string torch_dtype;              // informational ("", "float32", "bfloat16", ...)

  // Reads and validates <folder>/config.json. Throws supra::Error naming the file and field.
  static ModelConfig load_folder(const std::filesystem::path& folder);
  // Parses config.json text; `source` names it in error messages.
  static ModelConfig parse(const std::string& json_text, const std::string& source);

  // Throws supra::Error when the values are inconsistent or unsupported.
  void validate(const std::string& source) const;

  // Derived quantities.
  int gqa_group() const { return n_heads / n_kv_heads; }
  std::int64_t parameter_count() const;
  std::string summary() const;  // one line per field, for `supra info`
};

}  // namespace supra
