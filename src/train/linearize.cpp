#include "train/linearize.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "supra/error.h"
#include "io/model_folder.h"
#include "train/random.h"
#include "train/scratch_init.h"

namespace supra::train {
namespace {

// Source of the teacher tensors under either naming (spec §8.1 table).
class TeacherTensors {
 public:
  TeacherTensors(const ModelConfig& c, const Checkpoint& w) : hf_(c.format == ConfigFormat::HuggingFace), w_(w) {
    if (!hf_ && w.has("model.tok_embeddings.weight")) prefix_ = "model.";
  }

  std::vector<float> embed() const { return get(hf_ ? "model.embed_tokens.weight" : "tok_embeddings.weight"); }
  std::vector<float> final_norm() const { return get(hf_ ? "model.norm.weight" : "norm.weight"); }
  // The output head; a tied teacher without a stored head reuses the embedding.
  std::vector<float> output(bool tied) const {
    const std::string name = hf_ ? "lm_head.weight" : "output.weight";
    if (tied && !w_.has(prefix_ + name)) return embed();
    return get(name);
  }
  std::vector<float> layer(int i, const char* hf_name, const char* openlm_name) const {
    return get((hf_ ? "model.layers." : "layers.") + std::to_string(i) + "." + (hf_ ? hf_name : openlm_name));
  }
  bool hf() const { return hf_; }

 private:
  std::vector<float> get(const std::string& name) const { return to_f32(w_.get(prefix_ + name)); }

  bool hf_;
  const Checkpoint& w_;
  std::string prefix_;
};

void fill(Parameter& p, std::vector<float> values) {
  if (values.size() != p.data.size())
    throw Error("teacher tensor for " + p.name + " has " + std::to_string(values.size()) + " values, expected " +
                std::to_string(p.data.size()));
  p.data = std::move(values);
}

// Concatenates row blocks (each row-major with the same number of columns).
std::vector<float> concat(std::initializer_list<std::vector<float>> parts) {
  std::vector<float> out;
  for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// nn.Linear's default: kaiming_uniform_(a=√5) on the weight gives bound 1/√fan_in, and the
// bias uses the same bound.
void init_linear(Parameter& weight, Parameter& bias, SplitMix64& rng) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(weight.shape[1]));
  for (float& x : weight.data) x = rng.uniform(-bound, bound);
  for (float& x : bias.data) x = rng.uniform(-bound, bound);
}

// The shortest decimal that reads back as the same float: 1e-05, not 9.999999747378752e-06.
double shortest_decimal(float value) {
  for (int digits = 1; digits < 9; ++digits) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(value));
    const double parsed = std::strtod(text, nullptr);
    if (static_cast<float>(parsed) == value) return parsed;
  }
  return static_cast<double>(value);
}

}  // namespace

ModelConfig linear_config_for(const ModelConfig& teacher) {
  if (teacher.attention == AttentionKind::Linear) throw Error("the model is already a SUPRA linear-attention model");
  if (teacher.head_dim * teacher.n_heads != teacher.dim)
    throw Error("cannot linearise: head_dim " + std::to_string(teacher.head_dim) + " is not dim / n_heads (" +
                std::to_string(teacher.dim) + " / " + std::to_string(teacher.n_heads) +
                "); SUPRA projects q and k with D/H channels per head");
  ModelConfig c = teacher;
  c.format = ConfigFormat::OpenLM;
  c.model_type = "openlm";
  c.attention = AttentionKind::Linear;
  c.qk_dim = c.head_dim;
  c.v_dim = c.head_dim;
  c.use_decay = true;
  c.retnet_slopes = false;
  c.decay_start.reset();
  c.qk_norm = false;
  c.tie_embeddings = false;  // the head is stored (a copy of the embedding for tied teachers)
  c.torch_dtype.clear();
  c.validate("linearised config");
  return c;
}

std::string openlm_config_json(const ModelConfig& c) {
  nlohmann::ordered_json j;
  j["architectures"] = {"OpenLMForCausalLM"};
  j["model_type"] = "openlm";
  j["dim"] = c.dim;
  j["intermediate_dim_ffn"] = c.ffn_dim;
  j["n_layers"] = c.n_layers;
  j["n_heads"] = c.n_heads;
  j["n_heads_kv"] = c.n_kv_heads;
  j["vocab_size"] = c.vocab_size;
  j["norm_eps"] = shortest_decimal(c.norm_eps);
  j["seq_len"] = c.seq_len;
  j["weight_tying"] = c.tie_embeddings;
  j["apply_qk_norm"] = c.qk_norm;
  j["qk_head_dim"] = c.qk_dim;
  j["v_head_dim"] = c.v_dim;
  j["norm_type"] = "rms_norm";
  j["attn_name"] = c.attention == AttentionKind::Linear ? "linear_attn" : "xformers_attn";
  j["positional_embedding_type"] = c.rotary ? "rotary" : "none";
  j["ffn_type"] = "swiglu";
  j["use_decay"] = c.use_decay;
  j["use_retnet_slopes"] = c.retnet_slopes;
  j["decay_start"] = c.decay_start ? nlohmann::ordered_json(*c.decay_start) : nlohmann::ordered_json(nullptr);
  if (c.rope_base != 10000.0) j["rotary_base_frequency"] = c.rope_base;
  if (c.rope_scale != 1.0) j["rotary_scale"] = c.rope_scale;
  return j.dump(2) + "\n";
}

ParameterSet linearize_parameters(const ModelConfig& teacher, const Checkpoint& weights, std::uint64_t seed) {
  const ModelConfig c = linear_config_for(teacher);
  const TeacherTensors t(teacher, weights);
  const std::int64_t D = c.dim, H = c.n_heads, Hkv = c.n_kv_heads, dh = c.head_dim, F = c.ffn_dim, V = c.vocab_size;
  SplitMix64 rng(seed);
  ParameterSet p;
  fill(p.add("model.tok_embeddings.weight", {V, D}), t.embed());
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i) + ".";
    std::vector<float> in_proj = t.hf() ? concat({t.layer(i, "self_attn.q_proj.weight", ""),
                                                  t.layer(i, "self_attn.k_proj.weight", ""),
                                                  t.layer(i, "self_attn.v_proj.weight", "")})
                                        : t.layer(i, "", "attention.in_proj.weight");
    std::vector<float> w12 = t.hf() ? concat({t.layer(i, "mlp.gate_proj.weight", ""), t.layer(i, "mlp.up_proj.weight", "")})
                                    : t.layer(i, "", "feed_forward.w12.weight");
    fill(p.add(l + "attention.in_proj.weight", {(H + 2 * Hkv) * dh, D}), std::move(in_proj));
    fill(p.add(l + "attention.out_proj.weight", {D, H * dh}), t.layer(i, "self_attn.o_proj.weight", "attention.out_proj.weight"));
    // (add() may move earlier tensors: look both up once they exist.)
    p.add(l + "attention._totrain_embed.weight", {H * dh, H * dh});
    p.add(l + "attention._totrain_embed.bias", {H * dh});
    init_linear(p.at(l + "attention._totrain_embed.weight"), p.at(l + "attention._totrain_embed.bias"), rng);
    if (H != Hkv) {  // GQA: the keys get their own kernel (spec §3.2)
      p.add(l + "attention._totrain_embed_kv.weight", {Hkv * dh, Hkv * dh});
      p.add(l + "attention._totrain_embed_kv.bias", {Hkv * dh});
      init_linear(p.at(l + "attention._totrain_embed_kv.weight"), p.at(l + "attention._totrain_embed_kv.bias"), rng);
    }
    fill(p.add(l + "attention_norm.weight", {D}), t.layer(i, "input_layernorm.weight", "attention_norm.weight"));
    fill(p.add(l + "feed_forward.w12.weight", {2 * F, D}), std::move(w12));
    fill(p.add(l + "feed_forward.w3.weight", {D, F}), t.layer(i, "mlp.down_proj.weight", "feed_forward.w3.weight"));
    fill(p.add(l + "ffn_norm.weight", {D}), t.layer(i, "post_attention_layernorm.weight", "ffn_norm.weight"));
  }
  fill(p.add("model.norm.weight", {D}), t.final_norm());
  fill(p.add("model.output.weight", {V, D}), t.output(teacher.tie_embeddings));
  return p;
}

void linearize_folder(const std::filesystem::path& teacher, const std::filesystem::path& out, std::uint64_t seed,
                      bool from_scratch) {
  const ModelConfig teacher_config = ModelConfig::load_folder(teacher);
  const ModelConfig config = linear_config_for(teacher_config);
  ParameterSet params = linearize_parameters(teacher_config, Checkpoint::open_folder(teacher), seed);
  if (from_scratch) initialize_from_scratch(params, config, seed);
  write_folder_atomically(out, [&](const std::filesystem::path& dir) {
    write_text_file(dir / "config.json", openlm_config_json(config));
    save_parameters(dir / "model.safetensors", params, {{"format", "pt"}, {"supra_linearize_seed", std::to_string(seed)}});
    copy_tokenizer_files(teacher, dir);
  });
}

}  // namespace supra::train
