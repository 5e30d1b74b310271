// The tensor table of spec §5 (OpenLM), §8.1 (HF Llama/Mistral) and docs/QUANTIZATION.md (GGUF).
#include "model/tensor_table.h"

#include <algorithm>
#include <array>

namespace supra {
namespace {

using R = TensorRole;

// Appends entries to a table and returns their positions (references would not survive the
// next append); `layer` is the layer the next entries belong to.
class TableBuilder {
 public:
  explicit TableBuilder(std::vector<TensorEntry>& out) : out_(out) {}
  int layer = -1;

  TensorEntry& at(std::size_t i) { return out_[i]; }

  std::size_t matrix(std::string name, TensorRole role, std::int64_t rows, std::int64_t cols, TensorInit init) {
    return add(std::move(name), {{role, rows}}, cols, init, cols);
  }
  // A tensor that stores several roles as consecutive row blocks (in_proj, w12).
  std::size_t fused(std::string name, std::vector<TensorPart> parts, std::int64_t cols) {
    return add(std::move(name), std::move(parts), cols, TensorInit::Normal, cols);
  }
  std::size_t vector(std::string name, TensorRole role, std::int64_t n, TensorInit init = TensorInit::Ones,
                      std::int64_t fan_in = 0) {
    return add(std::move(name), {{role, n}}, 0, init, fan_in);
  }

 private:
  std::size_t add(std::string name, std::vector<TensorPart> parts, std::int64_t cols, TensorInit init,
                  std::int64_t fan_in) {
    TensorEntry& e = out_.emplace_back();
    e.name = std::move(name);
    e.layer = layer;
    for (const TensorPart& p : parts) e.rows += p.rows;
    e.cols = cols;
    e.parts = std::move(parts);
    e.init = init;
    e.fan_in = fan_in;
    return out_.size() - 1;
  }
  std::vector<TensorEntry>& out_;
};

void alias(TensorEntry& e, TensorRole also) {
  e.parts.front().has_alias = true;
  e.parts.front().alias = also;
}

constexpr std::size_t kEmbed = 0;  // every naming lists the embedding first

// The widths every naming shares. SUPRA projects q/k with dh = D/H columns per head; the
// softmax attention with dqk (== dh, checked by the config).
struct Widths {
  explicit Widths(const ModelConfig& c)
      : D(c.dim), H(c.n_heads), Hkv(c.n_kv_heads), F(c.ffn_dim), V(c.vocab_size), dh(c.head_dim),
        qk(c.attention == AttentionKind::Linear ? c.head_dim : c.qk_dim), v(c.v_dim), dqk(c.qk_dim) {}
  std::int64_t D, H, Hkv, F, V, dh, qk, v, dqk;
};

// The SUPRA feature maps (and qk norms) of one layer under `names` (weight, bias, kv weight,
// kv bias, q norm, k norm).
void feature_maps(TableBuilder& b, const ModelConfig& c, const Widths& w, const std::string& p,
                  const std::array<const char*, 6>& names) {
  const std::size_t fq = b.matrix(p + names[0], R::FeatQ, w.H * w.dqk, w.H * w.dh, TensorInit::LinearUniform);
  const std::size_t fqb = b.vector(p + names[1], R::FeatQBias, w.H * w.dqk, TensorInit::LinearUniform, w.H * w.dh);
  if (w.H == w.Hkv) {  // one kernel for queries and keys (spec §3.2)
    alias(b.at(fq), R::FeatK);
    alias(b.at(fqb), R::FeatKBias);
  } else {
    b.matrix(p + names[2], R::FeatK, w.Hkv * w.dqk, w.Hkv * w.dh, TensorInit::LinearUniform);
    b.vector(p + names[3], R::FeatKBias, w.Hkv * w.dqk, TensorInit::LinearUniform, w.Hkv * w.dh);
  }
  if (!c.qk_norm) return;
  b.vector(p + names[4], R::QNorm, w.H * w.dqk);
  b.vector(p + names[5], R::KNorm, w.H * w.dqk);
}

// The output head: stored unless tied, when the embedding serves and a stored copy is allowed.
void output_head(TableBuilder& b, const ModelConfig& c, const Widths& w, std::string name) {
  const std::size_t out = b.matrix(std::move(name), R::Output, w.V, w.D, TensorInit::Normal);
  if (!c.tie_embeddings) return;
  b.at(out).optional = true;
  alias(b.at(kEmbed), R::Output);
}

// The published OpenLM state dict's order.
void openlm_table(TableBuilder& b, const ModelConfig& c, const Widths& w) {
  b.matrix("tok_embeddings.weight", R::Embed, w.V, w.D, TensorInit::Normal);
  for (int i = 0; i < c.n_layers; ++i) {
    b.layer = i;
    const std::string p = "layers." + std::to_string(i) + ".";
    b.fused(p + "attention.in_proj.weight", {{R::Wq, w.H * w.qk}, {R::Wk, w.Hkv * w.qk}, {R::Wv, w.Hkv * w.v}}, w.D);
    b.matrix(p + "attention.out_proj.weight", R::Wo, w.D, w.H * w.v, TensorInit::ResidualNormal);
    if (c.attention == AttentionKind::Linear)
      feature_maps(b, c, w, p,
                   {"attention._totrain_embed.weight", "attention._totrain_embed.bias", "attention._totrain_embed_kv.weight",
                    "attention._totrain_embed_kv.bias", "attention._totrain_q_norm.weight", "attention._totrain_k_norm.weight"});
    b.vector(p + "attention_norm.weight", R::AttnNorm, w.D);
    b.fused(p + "feed_forward.w12.weight", {{R::Gate, w.F}, {R::Up, w.F}}, w.D);  // gate first (spec §2.4)
    b.matrix(p + "feed_forward.w3.weight", R::Down, w.D, w.F, TensorInit::ResidualNormal);
    b.vector(p + "ffn_norm.weight", R::FfnNorm, w.D);
  }
  b.layer = -1;
  b.vector("norm.weight", R::FinalNorm, w.D);
  output_head(b, c, w, "output.weight");
}

void hf_table(TableBuilder& b, const ModelConfig& c, const Widths& w) {
  b.matrix("model.embed_tokens.weight", R::Embed, w.V, w.D, TensorInit::Normal);
  for (int i = 0; i < c.n_layers; ++i) {
    b.layer = i;
    const std::string p = "model.layers." + std::to_string(i) + ".";
    b.matrix(p + "self_attn.q_proj.weight", R::Wq, w.H * w.qk, w.D, TensorInit::Normal);
    b.matrix(p + "self_attn.k_proj.weight", R::Wk, w.Hkv * w.qk, w.D, TensorInit::Normal);
    b.matrix(p + "self_attn.v_proj.weight", R::Wv, w.Hkv * w.v, w.D, TensorInit::Normal);
    b.matrix(p + "self_attn.o_proj.weight", R::Wo, w.D, w.H * w.v, TensorInit::ResidualNormal);
    b.matrix(p + "mlp.gate_proj.weight", R::Gate, w.F, w.D, TensorInit::Normal);
    b.matrix(p + "mlp.up_proj.weight", R::Up, w.F, w.D, TensorInit::Normal);
    b.matrix(p + "mlp.down_proj.weight", R::Down, w.D, w.F, TensorInit::ResidualNormal);
    b.vector(p + "input_layernorm.weight", R::AttnNorm, w.D);
    b.vector(p + "post_attention_layernorm.weight", R::FfnNorm, w.D);
  }
  b.layer = -1;
  b.vector("model.norm.weight", R::FinalNorm, w.D);
  output_head(b, c, w, "lm_head.weight");
}

// llama.cpp's names and order; supra's own names for the SUPRA feature maps.
void gguf_table(TableBuilder& b, const ModelConfig& c, const Widths& w) {
  // Only rotated rows of llama.cpp's "llama" arch need its pair order (the softmax teacher).
  const bool permuted = c.attention == AttentionKind::Softmax && c.rotary;
  b.matrix("token_embd.weight", R::Embed, w.V, w.D, TensorInit::Normal);
  b.vector("output_norm.weight", R::FinalNorm, w.D);
  output_head(b, c, w, "output.weight");
  for (int i = 0; i < c.n_layers; ++i) {
    b.layer = i;
    const std::string p = "blk." + std::to_string(i) + ".";
    b.vector(p + "attn_norm.weight", R::AttnNorm, w.D);
    b.at(b.matrix(p + "attn_q.weight", R::Wq, w.H * w.qk, w.D, TensorInit::Normal)).rope_heads = permuted ? c.n_heads : 0;
    b.at(b.matrix(p + "attn_k.weight", R::Wk, w.Hkv * w.qk, w.D, TensorInit::Normal)).rope_heads =
        permuted ? c.n_kv_heads : 0;
    b.matrix(p + "attn_v.weight", R::Wv, w.Hkv * w.v, w.D, TensorInit::Normal);
    b.matrix(p + "attn_output.weight", R::Wo, w.D, w.H * w.v, TensorInit::ResidualNormal);
    b.vector(p + "ffn_norm.weight", R::FfnNorm, w.D);
    b.matrix(p + "ffn_gate.weight", R::Gate, w.F, w.D, TensorInit::Normal);
    b.matrix(p + "ffn_up.weight", R::Up, w.F, w.D, TensorInit::Normal);
    b.matrix(p + "ffn_down.weight", R::Down, w.D, w.F, TensorInit::ResidualNormal);
    if (c.attention == AttentionKind::Linear)
      feature_maps(b, c, w, p,
                   {"attn_feat_q.weight", "attn_feat_q.bias", "attn_feat_k.weight", "attn_feat_k.bias",
                    "attn_q_norm.weight", "attn_k_norm.weight"});
  }
}

}  // namespace

const char* role_name(TensorRole role) {
  static constexpr const char* kNames[] = {"embed", "output", "final_norm", "attn_norm", "wq", "wk",
                                           "wv", "wo", "ffn_norm", "gate", "up", "down",
                                           "feat_q", "feat_q_bias", "feat_k", "feat_k_bias", "q_norm", "k_norm"};
  return kNames[static_cast<int>(role)];
}

std::vector<std::int64_t> TensorEntry::shape() const {
  return is_vector() ? std::vector<std::int64_t>{rows} : std::vector<std::int64_t>{rows, cols};
}

bool TensorEntry::is_output_projection() const {
  return std::any_of(parts.begin(), parts.end(), [](const TensorPart& p) {
    return p.role == TensorRole::Output || (p.has_alias && p.alias == TensorRole::Output);
  });
}

std::vector<TensorEntry> tensor_table(const ModelConfig& config, TensorNaming naming) {
  std::vector<TensorEntry> table;
  TableBuilder b(table);
  const Widths w(config);
  switch (naming) {
    case TensorNaming::OpenLM: openlm_table(b, config, w); break;
    case TensorNaming::HuggingFace: hf_table(b, config, w); break;
    case TensorNaming::Gguf: gguf_table(b, config, w); break;
  }
  return table;
}

TensorNaming naming_for(const ModelConfig& config, bool is_gguf) {
  if (is_gguf) return TensorNaming::Gguf;
  return config.format == ConfigFormat::HuggingFace ? TensorNaming::HuggingFace : TensorNaming::OpenLM;
}

std::string stored_prefix(TensorNaming naming, const std::function<bool(const std::string&)>& has) {
  return naming == TensorNaming::OpenLM && has("model.tok_embeddings.weight") ? "model." : "";
}

bool ignorable_tensor(const std::string& name) {
  return name.ends_with("rotary_emb.inv_freq") || name.ends_with(".masked_bias") || name.ends_with(".attn.bias");
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string unexpected_tensors_message(const std::string& what, const std::vector<std::string>& extra) {
  if (extra.empty()) return "";
  std::string list;
  for (std::size_t i = 0; i < std::min<std::size_t>(extra.size(), 5); ++i) list += (i ? ", " : "") + extra[i];
  if (extra.size() > 5) list += ", ... (" + std::to_string(extra.size()) + " in all)";
  return what + ": unexpected tensors for this config: " + list;
}

}  // namespace supra
