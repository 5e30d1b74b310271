// config.json -> ModelConfig, for OpenLM (spec §7.1) and HF Llama/Mistral (spec §8.1).
#include "supra/config.h"

#include "model/tensor_table.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "io/input_file.h"
#include "io/json_file.h"
#include "supra/error.h"

namespace supra {
namespace {

using nlohmann::json;

// Typed access to one config.json with messages that name the file and the field.
class Fields {
 public:
  Fields(const json& j, const std::string& source) : j_(j), source_(source) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  int integer(const char* key) const {
    if (!has(key)) fail(key, "is missing");
    return integer_or(key, 0);
  }
  int integer_or(const char* key, int fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_number_integer()) fail(key, "must be an integer, got " + quote_json(v));
    const auto x = v.get<std::int64_t>();
    if (x < 0 || x > (1 << 30)) fail(key, "is out of range: " + quote_json(v));
    return int(x);
  }
  double number_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_number()) fail(key, "must be a number, got " + quote_json(v));
    return v.get<double>();
  }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_boolean()) fail(key, "must be true or false, got " + quote_json(v));
    return v.get<bool>();
  }
  std::string string_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_string()) fail(key, "must be a string, got " + quote_json(v));
    return v.get<std::string>();
  }
  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw Error(source_ + ": field \"" + key + "\" " + what);
  }

 private:
  const json& j_;
  const std::string& source_;
};

void parse_openlm(const Fields& f, ModelConfig& c) {
  c.format = ConfigFormat::OpenLM;
  const std::string attn = f.string_or("attn_name", "xformers_attn");
  if (attn == "linear_attn")
    c.attention = AttentionKind::Linear;
  else if (attn == "xformers_attn" || attn == "torch_attn" || attn == "custom_attn")
    c.attention = AttentionKind::Softmax;
  else
    f.fail("attn_name", "names an unknown attention \"" + shorten_text(attn) +
                            "\" (supported: linear_attn, xformers_attn, torch_attn, custom_attn)");

  c.dim = f.integer("dim");
  c.n_layers = f.integer("n_layers");
  c.n_heads = f.integer("n_heads");
  c.n_kv_heads = f.integer_or("n_heads_kv", c.n_heads);
  c.vocab_size = f.integer("vocab_size");
  c.qk_dim = f.integer("qk_head_dim");
  c.v_dim = f.integer("v_head_dim");
  c.head_dim = c.n_heads > 0 ? c.dim / c.n_heads : 0;
  if (c.n_heads > 0 && c.dim % c.n_heads != 0) f.fail("dim", "must be a multiple of n_heads");
  const int default_ffn = 256 * ((8 * c.dim / 3 + 255) / 256);
  c.ffn_dim = f.integer_or("intermediate_dim_ffn", default_ffn);
  c.norm_eps = float(f.number_or("norm_eps", 1e-5));
  c.seq_len = f.integer_or("seq_len", 2048);
  c.rope_base = f.number_or("rotary_base_frequency", 10000.0);
  c.rope_scale = f.number_or("rotary_scale", 1.0);
  c.qk_norm = f.boolean_or("apply_qk_norm", false);
  c.use_decay = f.boolean_or("use_decay", true);
  c.retnet_slopes = f.boolean_or("use_retnet_slopes", false);
  if (f.has("decay_start")) c.decay_start = f.number_or("decay_start", 0.0);
  c.tie_embeddings = f.boolean_or("weight_tying", false);

  const std::string pos = f.string_or("positional_embedding_type", "rotary");
  if (pos == "rotary")
    c.rotary = true;
  else if (pos == "none")
    c.rotary = false;
  else
    f.fail("positional_embedding_type", "\"" + shorten_text(pos) + "\" is not supported (supported: rotary, none)");
  if (const auto norm = f.string_or("norm_type", "default_layer_norm"); norm != "rms_norm")
    f.fail("norm_type", "\"" + shorten_text(norm) + "\" is not supported (supported: rms_norm)");
  if (const auto ffn = f.string_or("ffn_type", "swiglu"); ffn != "swiglu")
    f.fail("ffn_type", "\"" + shorten_text(ffn) + "\" is not supported (supported: swiglu)");
  if (f.boolean_or("post_embed_norm", false)) f.fail("post_embed_norm", "true is not supported");
  if (f.integer_or("moe_freq", 0) != 0) f.fail("moe_freq", "mixture-of-experts layers are not supported");
}

void parse_hf(const Fields& f, ModelConfig& c) {
  c.format = ConfigFormat::HuggingFace;
  c.attention = AttentionKind::Softmax;
  c.dim = f.integer("hidden_size");
  c.n_layers = f.integer("num_hidden_layers");
  c.n_heads = f.integer("num_attention_heads");
  c.n_kv_heads = f.integer_or("num_key_value_heads", c.n_heads);
  c.vocab_size = f.integer_or("vocab_size", 32000);
  c.head_dim = f.integer_or("head_dim", c.n_heads > 0 ? c.dim / c.n_heads : 0);
  c.qk_dim = c.head_dim;
  c.v_dim = c.head_dim;
  c.ffn_dim = f.integer("intermediate_size");
  c.norm_eps = float(f.number_or("rms_norm_eps", 1e-6));
  c.seq_len = f.integer_or("max_position_embeddings", 2048);
  c.rope_base = f.number_or("rope_theta", 10000.0);
  c.tie_embeddings = f.boolean_or("tie_word_embeddings", false);
  c.use_decay = false;
  if (f.has("rope_scaling")) f.fail("rope_scaling", "is not supported (only plain rotary)");
  if (f.boolean_or("attention_bias", false)) f.fail("attention_bias", "true is not supported");
  if (f.boolean_or("mlp_bias", false)) f.fail("mlp_bias", "true is not supported");
  if (const auto act = f.string_or("hidden_act", "silu"); act != "silu")
    f.fail("hidden_act", "\"" + shorten_text(act) + "\" is not supported (supported: silu)");
}

bool is_power_of_two(int x) { return x > 0 && (x & (x - 1)) == 0; }

}  // namespace

ModelConfig ModelConfig::load_folder(const std::filesystem::path& folder) {
  if (!std::filesystem::is_directory(folder))
    throw Error("model folder not found: " + folder.string());
  const auto path = folder / "config.json";
  if (!std::filesystem::exists(path))
    throw Error("cannot read " + path.string() + " (every model folder needs a config.json)");
  return parse(read_small_file(path, kMaxJsonFileBytes), path.string());
}

ModelConfig ModelConfig::parse(const std::string& json_text, const std::string& source) {
  const json j = parse_json(json_text, source);
  if (!j.is_object()) throw Error(source + ": expected a JSON object");
  Fields f(j, source);
  ModelConfig c;
  c.model_type = f.string_or("model_type", "");
  if (c.model_type == "openlm")
    parse_openlm(f, c);
  else if (c.model_type == "llama" || c.model_type == "mistral")
    parse_hf(f, c);
  else
    throw Error(source + ": unknown architecture: model_type \"" + shorten_text(c.model_type) +
                "\" (supported: openlm, llama, mistral)");
  c.torch_dtype = f.string_or("torch_dtype", "");
  c.validate(source);
  return c;
}

void ModelConfig::validate(const std::string& source) const {
  auto fail = [&](const std::string& what) { throw Error(source + ": " + what); };
  if (dim <= 0 || n_layers <= 0 || n_heads <= 0 || n_kv_heads <= 0 || vocab_size <= 0 || ffn_dim <= 0 ||
      head_dim <= 0 || qk_dim <= 0 || v_dim <= 0)
    fail("dimensions must be positive");
  if (n_heads % n_kv_heads != 0) fail("the number of heads must be a multiple of the number of kv heads");
  if (!(norm_eps > 0.0f)) fail("the norm epsilon must be positive");
  if (rotary && head_dim % 2 != 0) fail("rotary needs an even head width");
  if (rotary && !(rope_base > 0.0 && rope_scale > 0.0)) fail("rotary base and scale must be positive");
  if (attention == AttentionKind::Linear) {
    // The reference rotary module is built with D/H channels and rotates the features.
    if (rotary && qk_dim != head_dim)
      fail("qk_head_dim must equal dim / n_heads (" + std::to_string(head_dim) + ") when rotary is on");
    if (use_decay && !retnet_slopes && !is_power_of_two(n_heads))
      fail("decay slopes need n_heads to be a power of two (the reference get_slopes fails otherwise)");
  } else if (format == ConfigFormat::OpenLM && qk_dim != head_dim) {
    fail("the softmax attention needs qk_head_dim == dim / n_heads");
  }
}

std::int64_t ModelConfig::parameter_count() const {
  std::int64_t n = 0;
  for (const TensorEntry& e : tensor_table(*this, TensorNaming::Gguf))
    if (!e.optional) n += e.rows * (e.is_vector() ? 1 : e.cols);  // a tied head is the embedding
  return n;
}

std::string ModelConfig::summary() const {
  std::ostringstream s;
  const bool linear = attention == AttentionKind::Linear;
  s << "architecture    " << (linear ? "SUPRA linear attention" : "softmax attention") << " ("
    << (format == ConfigFormat::OpenLM ? "OpenLM" : "HF") << " " << model_type << ")\n"
    << "layers          " << n_layers << "\n"
    << "dim             " << dim << "\n"
    << "heads           " << n_heads << " query, " << n_kv_heads << " kv (head width " << head_dim << ")\n";
  if (linear) s << "feature width   " << qk_dim << " (qk), " << v_dim << " (v)\n";
  s << "ffn             " << ffn_dim << " (SwiGLU)\n"
    << "vocab           " << vocab_size << "\n"
    << "norm eps        " << norm_eps << "\n"
    << "rotary          ";
  if (!rotary)
    s << "none\n";
  else if (rope_scale != 1.0)
    s << "half-split, base " << rope_base << ", scale " << rope_scale << "\n";
  else
    s << "half-split, base " << rope_base << "\n";
  if (linear) {
    s << "qk norm         " << (qk_norm ? "yes" : "no") << "\n"
      << "decay           "
      << (!use_decay ? "none" : retnet_slopes ? "retnet slopes" : decay_start ? "custom start" : "lightning slopes")
      << "\n";
  }
  s << "tied embeddings " << (tie_embeddings ? "yes" : "no") << "\n";
  return s.str();
}

}  // namespace supra
