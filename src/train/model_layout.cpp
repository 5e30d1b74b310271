#include "train/model_layout.h"

#include <algorithm>
#include <set>
#include <string>

#include "model/positional.h"
#include "supra/error.h"

namespace supra::train {
namespace {

using Layout = TrainableModel::Layout;

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Buffers some exporters store that carry no information (as model/weights.cpp ignores them).
bool ignorable(const std::string& name) {
  return name.ends_with("rotary_emb.inv_freq") || name.ends_with(".masked_bias") || name.ends_with(".attn.bias");
}

class Binder {
 public:
  Binder(const ParameterSet& params, std::string prefix) : params_(params), prefix_(std::move(prefix)) {}

  bool has(const std::string& name) const { return params_.has(prefix_ + name); }

  Layout::Mat matrix(const std::string& name, std::int64_t rows, std::int64_t cols) {
    return Layout::Mat{index(name, {rows, cols}), 0, rows, cols};
  }
  Layout::Vec vector(const std::string& name, std::int64_t n) { return Layout::Vec{index(name, {n}), n}; }

  void check_all_used() const {
    std::vector<std::string> extra;
    for (const Parameter& p : params_.all())
      if (!used_.count(p.name)) extra.push_back(p.name);
    if (extra.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < std::min<std::size_t>(extra.size(), 5); ++i) list += (i ? ", " : "") + extra[i];
    if (extra.size() > 5) list += ", ... (" + std::to_string(extra.size()) + " in all)";
    throw Error("parameters: unexpected tensors for this config: " + list);
  }

 private:
  std::size_t index(const std::string& name, const std::vector<std::int64_t>& shape) {
    const std::string full = prefix_ + name;
    const Parameter& p = params_.at(full);
    if (p.shape != shape)
      throw Error("parameters: tensor " + full + " has shape " + shape_string(p.shape) + ", expected " +
                  shape_string(shape));
    used_.insert(full);
    return params_.index_of(full);
  }

  const ParameterSet& params_;
  std::string prefix_;
  std::set<std::string> used_;
};

Layout::Mat rows_of(Layout::Mat m, std::int64_t row0, std::int64_t rows) {
  m.row0 += row0;
  m.rows = rows;
  return m;
}

void bind_openlm(Binder& b, const ModelConfig& c, Layout& l) {
  const std::int64_t D = c.dim, H = c.n_heads, Hkv = c.n_kv_heads, F = c.ffn_dim, V = c.vocab_size;
  const bool linear = c.attention == AttentionKind::Linear;
  const std::int64_t qk_width = linear ? c.head_dim : c.qk_dim;  // SUPRA projects with dh = D/H
  const Layout::Mat embed = b.matrix("tok_embeddings.weight", V, D);
  l.embed = embed.param;
  l.final_norm = b.vector("norm.weight", D);
  l.output = (c.tie_embeddings && !b.has("output.weight")) ? embed : b.matrix("output.weight", V, D);
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    Layout::Layer& y = l.layers.emplace_back();
    const Layout::Mat in_proj =
        b.matrix(p + "attention.in_proj.weight", H * qk_width + Hkv * qk_width + Hkv * c.v_dim, D);
    y.wq = rows_of(in_proj, 0, H * qk_width);
    y.wk = rows_of(in_proj, H * qk_width, Hkv * qk_width);
    y.wv = rows_of(in_proj, (H + Hkv) * qk_width, Hkv * c.v_dim);
    y.wo = b.matrix(p + "attention.out_proj.weight", D, H * c.v_dim);
    const Layout::Mat w12 = b.matrix(p + "feed_forward.w12.weight", 2 * F, D);
    y.gate = rows_of(w12, 0, F);  // the first half of w12 is the gate (spec §2.4)
    y.up = rows_of(w12, F, F);
    y.down = b.matrix(p + "feed_forward.w3.weight", D, F);
    y.attn_norm = b.vector(p + "attention_norm.weight", D);
    y.ffn_norm = b.vector(p + "ffn_norm.weight", D);
    if (!linear) continue;
    y.feat_q = b.matrix(p + "attention._totrain_embed.weight", H * c.qk_dim, H * c.head_dim);
    y.feat_q_bias = b.vector(p + "attention._totrain_embed.bias", H * c.qk_dim);
    if (H != Hkv) {  // GQA: keys have their own kernel (spec §3.2)
      y.feat_k = b.matrix(p + "attention._totrain_embed_kv.weight", Hkv * c.qk_dim, Hkv * c.head_dim);
      y.feat_k_bias = b.vector(p + "attention._totrain_embed_kv.bias", Hkv * c.qk_dim);
    } else {
      y.feat_k = y.feat_q;
      y.feat_k_bias = y.feat_q_bias;
    }
    if (c.qk_norm) {
      y.q_norm = b.vector(p + "attention._totrain_q_norm.weight", H * c.qk_dim);
      y.k_norm = b.vector(p + "attention._totrain_k_norm.weight", H * c.qk_dim);
    }
  }
}

void bind_hf(Binder& b, const ModelConfig& c, Layout& l) {
  const std::int64_t D = c.dim, H = c.n_heads, Hkv = c.n_kv_heads, F = c.ffn_dim, V = c.vocab_size;
  const std::int64_t hd = c.head_dim;
  const Layout::Mat embed = b.matrix("model.embed_tokens.weight", V, D);
  l.embed = embed.param;
  l.final_norm = b.vector("model.norm.weight", D);
  l.output = (c.tie_embeddings && !b.has("lm_head.weight")) ? embed : b.matrix("lm_head.weight", V, D);
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layout::Layer& y = l.layers.emplace_back();
    y.wq = b.matrix(p + "self_attn.q_proj.weight", H * hd, D);
    y.wk = b.matrix(p + "self_attn.k_proj.weight", Hkv * hd, D);
    y.wv = b.matrix(p + "self_attn.v_proj.weight", Hkv * hd, D);
    y.wo = b.matrix(p + "self_attn.o_proj.weight", D, H * hd);
    y.gate = b.matrix(p + "mlp.gate_proj.weight", F, D);
    y.up = b.matrix(p + "mlp.up_proj.weight", F, D);
    y.down = b.matrix(p + "mlp.down_proj.weight", D, F);
    y.attn_norm = b.vector(p + "input_layernorm.weight", D);
    y.ffn_norm = b.vector(p + "post_attention_layernorm.weight", D);
  }
}

// Names to drop before binding: ignorable buffers, and a tied output that equals the embedding.
std::set<std::string> names_to_drop(const ModelConfig& c, const ParameterSet& params) {
  std::set<std::string> drop;
  for (const Parameter& p : params.all())
    if (ignorable(p.name)) drop.insert(p.name);
  if (!c.tie_embeddings) return drop;
  const bool hf = c.format == ConfigFormat::HuggingFace;
  const std::string prefix = (!hf && params.has("model.tok_embeddings.weight")) ? "model." : "";
  const Parameter* embed = params.find(prefix + (hf ? "model.embed_tokens.weight" : "tok_embeddings.weight"));
  const Parameter* output = params.find(prefix + (hf ? "lm_head.weight" : "output.weight"));
  if (embed != nullptr && output != nullptr && embed->shape == output->shape && embed->data == output->data)
    drop.insert(output->name);
  return drop;
}

}  // namespace

std::shared_ptr<const Layout> bind_layout(const ModelConfig& config, ParameterSet& params) {
  config.validate("config");
  const std::set<std::string> drop = names_to_drop(config, params);
  if (!drop.empty()) {
    ParameterSet kept;
    for (Parameter& p : params.all())
      if (!drop.count(p.name)) kept.add(p.name, p.shape).data = std::move(p.data);
    params = std::move(kept);
  }
  auto layout = std::make_shared<Layout>();
  if (config.format == ConfigFormat::HuggingFace) {
    Binder b(params, "");
    bind_hf(b, config, *layout);
    b.check_all_used();
  } else {
    Binder b(params, params.has("model.tok_embeddings.weight") ? "model." : "");
    bind_openlm(b, config, *layout);
    b.check_all_used();
  }
  layout->inv_freq = rotary_inv_freq(config);
  layout->slopes = decay_slopes(config);
  return layout;
}

}  // namespace supra::train
