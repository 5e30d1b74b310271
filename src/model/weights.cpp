// The name table of spec §5 (OpenLM) and §8.1 (HF Llama/Mistral), and shape checks.
#include "model/weights.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "model/gguf_layout.h"
#include "supra/error.h"

namespace supra {
namespace {

using kernels::Matrix;

bool is_weight_type(DType t) {
  return t == DType::F32 || t == DType::BF16 || t == DType::F16 || is_block_quantized(t);
}

// The alignment kernels may assume for a matrix's rows: blocks are read bytewise.
std::size_t alignment_of(DType t) { return is_block_quantized(t) ? 2 : dtype_size(t); }

// Looks tensors up by name, checks shape and type, and records which names were used so
// that leftovers can be reported.
class Binder {
 public:
  Binder(const Checkpoint& ckpt, std::string prefix, Weights& w) : ckpt_(ckpt), prefix_(std::move(prefix)), w_(w) {}

  bool has(const std::string& name) const { return ckpt_.has(prefix_ + name); }

  Matrix matrix(const std::string& name, std::int64_t rows, std::int64_t cols) {
    const TensorView& t = view(name, {rows, cols});
    const std::byte* data = t.data;
    if (reinterpret_cast<std::uintptr_t>(data) % alignment_of(t.dtype) != 0) {
      auto& copy = w_.owned.emplace_back(t.data, t.data + t.nbytes);  // std::vector aligns for any scalar
      data = copy.data();
    }
    return Matrix{t.dtype, rows, cols, data};
  }

  // A q/k matrix stored with llama.cpp's rotary row permutation, back in HF row order (a copy).
  Matrix unpermuted(const std::string& name, std::int64_t rows, std::int64_t cols, int heads) {
    const TensorView& t = view(name, {rows, cols});
    const std::size_t rb = dtype_row_bytes(t.dtype, cols);
    auto& copy = w_.owned.emplace_back(t.nbytes);
    for (std::int64_t s = 0; s < rows; ++s)
      std::memcpy(copy.data() + static_cast<std::size_t>(rope_hf_row(s, rows, heads)) * rb,
                  t.data + static_cast<std::size_t>(s) * rb, rb);
    return Matrix{t.dtype, rows, cols, copy.data()};
  }

  std::vector<float> vector(const std::string& name, std::int64_t n) { return to_f32(view(name, {n})); }

  void check_all_used() const {
    std::vector<std::string> extra;
    for (const auto& name : ckpt_.names()) {
      if (used_.count(name) || ignorable(name)) continue;
      extra.push_back(name);
    }
    if (extra.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < std::min<std::size_t>(extra.size(), 5); ++i) list += (i ? ", " : "") + extra[i];
    if (extra.size() > 5) list += ", ... (" + std::to_string(extra.size()) + " in all)";
    throw Error(ckpt_.describe() + ": unexpected tensors for this config: " + list);
  }

 private:
  // Buffers some exporters store that carry no information (recomputed from the config).
  static bool ignorable(const std::string& name) {
    return name.ends_with("rotary_emb.inv_freq") || name.ends_with(".masked_bias") || name.ends_with(".attn.bias");
  }

  const TensorView& view(const std::string& name, std::vector<std::int64_t> shape) {
    const std::string full = prefix_ + name;
    const TensorView& t = ckpt_.get(full);
    used_.insert(full);
    if (t.shape != shape) {
      TensorView expected;
      expected.shape = shape;
      throw Error(ckpt_.describe() + ": tensor " + full + " has shape " + t.shape_string() + ", expected " +
                  expected.shape_string());
    }
    if (!is_weight_type(t.dtype))
      throw Error(ckpt_.describe() + ": tensor " + full + " has type " + std::string(dtype_name(t.dtype)) +
                  ", expected F32, BF16, F16, Q8_0 or Q4_0");
    return t;
  }

  const Checkpoint& ckpt_;
  std::string prefix_;
  Weights& w_;
  std::set<std::string> used_;
};

void bind_openlm(Binder& b, const ModelConfig& c, Weights& w) {
  const std::int64_t D = c.dim, H = c.n_heads, Hkv = c.n_kv_heads, F = c.ffn_dim, V = c.vocab_size;
  const bool linear = c.attention == AttentionKind::Linear;
  // SUPRA projects q/k with dh = D/H columns per head; the softmax CustomAttn with dqk.
  const std::int64_t qk_width = linear ? c.head_dim : c.qk_dim;
  w.embed = b.matrix("tok_embeddings.weight", V, D);
  w.final_norm = b.vector("norm.weight", D);
  w.output = (c.tie_embeddings && !b.has("output.weight")) ? w.embed : b.matrix("output.weight", V, D);
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    LayerWeights& l = w.layers.emplace_back();
    const Matrix in_proj = b.matrix(p + "attention.in_proj.weight", H * qk_width + Hkv * qk_width + Hkv * c.v_dim, D);
    l.wq = in_proj.row_slice(0, H * qk_width);
    l.wk = in_proj.row_slice(H * qk_width, Hkv * qk_width);
    l.wv = in_proj.row_slice((H + Hkv) * qk_width, Hkv * c.v_dim);
    l.wo = b.matrix(p + "attention.out_proj.weight", D, H * c.v_dim);
    const Matrix w12 = b.matrix(p + "feed_forward.w12.weight", 2 * F, D);
    l.w_gate = w12.row_slice(0, F);  // the first half of w12 is the gate (spec §2.4)
    l.w_up = w12.row_slice(F, F);
    l.w_down = b.matrix(p + "feed_forward.w3.weight", D, F);
    l.attn_norm = b.vector(p + "attention_norm.weight", D);
    l.ffn_norm = b.vector(p + "ffn_norm.weight", D);
    if (!linear) continue;
    l.feat_q = b.matrix(p + "attention._totrain_embed.weight", H * c.qk_dim, H * c.head_dim);
    l.feat_q_bias = b.vector(p + "attention._totrain_embed.bias", H * c.qk_dim);
    if (H != Hkv) {  // GQA: keys have their own kernel (spec §3.2)
      l.feat_k = b.matrix(p + "attention._totrain_embed_kv.weight", Hkv * c.qk_dim, Hkv * c.head_dim);
      l.feat_k_bias = b.vector(p + "attention._totrain_embed_kv.bias", Hkv * c.qk_dim);
    } else {
      l.feat_k = l.feat_q;
      l.feat_k_bias = l.feat_q_bias;
    }
    if (c.qk_norm) {
      l.q_norm = b.vector(p + "attention._totrain_q_norm.weight", H * c.qk_dim);
      l.k_norm = b.vector(p + "attention._totrain_k_norm.weight", H * c.qk_dim);
    }
  }
}

void bind_hf(Binder& b, const ModelConfig& c, Weights& w) {
  const std::int64_t D = c.dim, H = c.n_heads, Hkv = c.n_kv_heads, F = c.ffn_dim, V = c.vocab_size;
  const std::int64_t hd = c.head_dim;
  w.embed = b.matrix("model.embed_tokens.weight", V, D);
  w.final_norm = b.vector("model.norm.weight", D);
  w.output = (c.tie_embeddings && !b.has("lm_head.weight")) ? w.embed : b.matrix("lm_head.weight", V, D);
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights& l = w.layers.emplace_back();
    l.wq = b.matrix(p + "self_attn.q_proj.weight", H * hd, D);
    l.wk = b.matrix(p + "self_attn.k_proj.weight", Hkv * hd, D);
    l.wv = b.matrix(p + "self_attn.v_proj.weight", Hkv * hd, D);
    l.wo = b.matrix(p + "self_attn.o_proj.weight", D, H * hd);
    l.w_gate = b.matrix(p + "mlp.gate_proj.weight", F, D);
    l.w_up = b.matrix(p + "mlp.up_proj.weight", F, D);
    l.w_down = b.matrix(p + "mlp.down_proj.weight", D, F);
    l.attn_norm = b.vector(p + "input_layernorm.weight", D);
    l.ffn_norm = b.vector(p + "post_attention_layernorm.weight", D);
  }
}

// GGUF files (docs/QUANTIZATION.md): the names of gguf_layout's table, q/k rows un-permuted
// for arch "llama".
void bind_gguf(Binder& b, const Checkpoint& ckpt, const ModelConfig& c, Weights& w) {
  const std::string arch = *ckpt.metadata("general.architecture");
  if (arch != gguf_architecture(c))
    throw Error(ckpt.describe() + ": general.architecture is \"" + arch + "\" but config.json describes a \"" +
                gguf_architecture(c) + "\" model");
  for (const GgufSlot& s : gguf_slots(w, c)) {
    if (s.vector)
      *s.vector = b.vector(s.name, s.rows);
    else
      *s.matrix = s.rope_heads > 0 ? b.unpermuted(s.name, s.rows, s.cols, s.rope_heads) : b.matrix(s.name, s.rows, s.cols);
  }
  // llama.cpp's converter writes output.weight even for tied embeddings; supra leaves it out.
  if (c.tie_embeddings)
    w.output = b.has("output.weight") ? b.matrix("output.weight", c.vocab_size, c.dim) : w.embed;
  if (c.attention == AttentionKind::Linear && c.n_heads == c.n_kv_heads)
    for (LayerWeights& l : w.layers) {
      l.feat_k = l.feat_q;
      l.feat_k_bias = l.feat_q_bias;
    }
}

}  // namespace

Weights bind_weights(const Checkpoint& checkpoint, const ModelConfig& config) {
  Weights w;
  if (checkpoint.metadata("general.architecture")) {
    Binder b(checkpoint, "", w);
    bind_gguf(b, checkpoint, config, w);
    b.check_all_used();
  } else if (config.format == ConfigFormat::HuggingFace) {
    Binder b(checkpoint, "", w);
    bind_hf(b, config, w);
    b.check_all_used();
  } else {
    // HF-saved OpenLM checkpoints prefix every key with "model."; raw open_lm ones do not.
    const std::string prefix = checkpoint.has("model.tok_embeddings.weight") ? "model." : "";
    Binder b(checkpoint, prefix, w);
    bind_openlm(b, config, w);
    b.check_all_used();
  }
  return w;
}

}  // namespace supra
