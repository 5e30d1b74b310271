#include "model/transformer.h"

#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "kernels/kernels.h"
#include "model/positional.h"

namespace supra {
namespace {

using Buffer = std::vector<float>;

// nn.GroupNorm's default epsilon, hard-coded in the reference (spec §3.9).
constexpr float kGroupNormEps = 1e-5f;

// Per-head attention work (multiply-adds) below which heads run on one thread (a team costs
// more). Softmax kv groups are threaded from less: each is a pair of GEMMs over the whole cache,
// and in decode (T = 1) that is a few thousand keys; the GEMMs then run on their group's thread.
constexpr std::int64_t kMinThreadedHeadWork = std::int64_t{1} << 20;
constexpr std::int64_t kMinThreadedSoftmaxWork = std::int64_t{1} << 15;

Buffer zeros(std::int64_t n) { return Buffer(static_cast<std::size_t>(n), 0.0f); }

void emit(const TraceFn& trace, const std::string& name, const Buffer& values) {
  if (trace) trace(name, values);
}

std::string layer_name(int layer, const char* what) { return "l" + std::to_string(layer) + "." + what; }

// Query-head view of kv-head rows (spec §3.3).
Buffer repeat_heads(const Buffer& src, std::int64_t T, std::int64_t Hkv, std::int64_t H, std::int64_t d) {
  Buffer dst = zeros(T * H * d);
  kernels::repeat_kv_heads(dst.data(), src.data(), T, Hkv, H, d);
  return dst;
}

}  // namespace

Transformer::Transformer(const ModelConfig& config, const Weights& weights, MatmulObserver observer)
    : c_(config),
      w_(weights),
      inv_freq_(rotary_inv_freq(config)),
      slopes_(decay_slopes(config)),
      observer_(std::move(observer)) {}

void Transformer::project(float* out, const float* x, const kernels::Matrix& w, std::int64_t T) const {
  if (observer_) observer_(w, x, T);
  kernels::matmul(out, x, w, T);
}

State Transformer::new_state() const {
  State s;
  s.layers.resize(static_cast<std::size_t>(c_.n_layers));
  if (c_.attention == AttentionKind::Linear)
    for (auto& l : s.layers) l.matrix.assign(static_cast<std::size_t>(c_.n_heads) * c_.qk_dim * c_.v_dim, 0.0f);
  return s;
}

std::vector<float> Transformer::run(std::span<const TokenId> ids, State& state, AttentionPath path,
                                    LogitsWanted wanted, const TraceFn& trace) const {
  const std::int64_t T = static_cast<std::int64_t>(ids.size()), D = c_.dim;
  Buffer x = zeros(T * D);
  for (std::int64_t t = 0; t < T; ++t) kernels::copy_row(&x[t * D], w_.embed, ids[t]);
  emit(trace, "embed", x);

  Buffer z = zeros(T * D), attn = zeros(T * D);
  for (int i = 0; i < c_.n_layers; ++i) {
    const LayerWeights& lw = w_.layers[i];
    LayerState& ls = state.layers[i];
    kernels::rmsnorm(z.data(), x.data(), lw.attn_norm.data(), T, D, c_.norm_eps);
    emit(trace, layer_name(i, "attn_norm_out"), z);
    if (c_.attention == AttentionKind::Linear)
      linear_attention(attn.data(), z.data(), T, state.position, ls, lw, path, i, trace);
    else
      softmax_attention(attn.data(), z.data(), T, state.position, ls, lw, i, trace);
    emit(trace, layer_name(i, "attn_out"), attn);
    for (std::int64_t j = 0; j < T * D; ++j) x[j] += attn[j];
    feed_forward(x.data(), T, lw);
    emit(trace, "hidden." + std::to_string(i + 1), x);
  }
  state.position += T;

  if (wanted == LogitsWanted::None) return {};
  const std::int64_t first = wanted == LogitsWanted::Last ? T - 1 : 0;
  const std::int64_t n = T - first;
  kernels::rmsnorm(z.data(), x.data() + first * D, w_.final_norm.data(), n, D, c_.norm_eps);
  if (trace && wanted == LogitsWanted::All) emit(trace, "final_norm_out", z);
  Buffer logits = zeros(n * c_.vocab_size);
  project(logits.data(), z.data(), w_.output, n);
  return logits;
}

void Transformer::linear_attention(float* out, const float* z, std::int64_t T, std::int64_t pos, LayerState& ls,
                                   const LayerWeights& lw, AttentionPath path, int layer,
                                   const TraceFn& trace) const {
  const std::int64_t H = c_.n_heads, Hkv = c_.n_kv_heads, dh = c_.head_dim, dqk = c_.qk_dim, dv = c_.v_dim;
  // Projections (spec §3.1) and the ReLU feature map over all heads at once (§3.2).
  Buffer q = zeros(T * H * dh), k = zeros(T * Hkv * dh), v = zeros(T * Hkv * dv);
  project(q.data(), z, lw.wq, T);
  project(k.data(), z, lw.wk, T);
  project(v.data(), z, lw.wv, T);
  Buffer qf = zeros(T * H * dqk), kf_kv = zeros(T * Hkv * dqk);
  project(qf.data(), q.data(), lw.feat_q, T);
  kernels::add_bias(qf.data(), lw.feat_q_bias.data(), T, H * dqk);
  kernels::relu(qf.data(), T * H * dqk);
  project(kf_kv.data(), k.data(), lw.feat_k, T);
  kernels::add_bias(kf_kv.data(), lw.feat_k_bias.data(), T, Hkv * dqk);
  kernels::relu(kf_kv.data(), T * Hkv * dqk);
  // GQA repeat (§3.3), then qk-norm over all H·dqk features (§3.4), then rotary (§3.5).
  Buffer kf = repeat_heads(kf_kv, T, Hkv, H, dqk);
  Buffer vr = repeat_heads(v, T, Hkv, H, dv);
  if (c_.qk_norm) {
    kernels::rmsnorm(qf.data(), qf.data(), lw.q_norm.data(), T, H * dqk, c_.norm_eps);
    kernels::rmsnorm(kf.data(), kf.data(), lw.k_norm.data(), T, H * dqk, c_.norm_eps);
  }
  if (c_.rotary) {
    kernels::rope(qf.data(), T, H, dqk, dh, pos, inv_freq_.data());
    kernels::rope(kf.data(), T, H, dqk, dh, pos, inv_freq_.data());
  }
  emit(trace, layer_name(layer, "q_feat"), qf);
  emit(trace, layer_name(layer, "k_feat"), kf);
  emit(trace, layer_name(layer, "v"), vr);

  // Decayed causal linear attention per head (§3.7 / §3.8), continuing the layer state.
  const float scale = float(1.0 / std::sqrt(double(dqk)));
  Buffer o = zeros(T * H * dv);
  const bool threaded = path == AttentionPath::Block && T * dqk * dv >= kMinThreadedHeadWork;
#pragma omp parallel for schedule(static) if (threaded)
  for (std::int64_t h = 0; h < H; ++h) {
    float* S = &ls.matrix[static_cast<std::size_t>(h * dqk * dv)];
    const float slope = slopes_[static_cast<std::size_t>(h)];
    if (path == AttentionPath::Step) {
      const float gamma = std::exp(-slope);  // the reference evaluates γ in the activation dtype
      kernels::linear_attention_step(&o[h * dv], S, &qf[h * dqk], &kf[h * dqk], &vr[h * dv], dqk, dv, gamma, scale);
    } else {
      kernels::linear_attention_block(&o[h * dv], H * dv, S, &qf[h * dqk], H * dqk, &kf[h * dqk], H * dqk,
                                      &vr[h * dv], H * dv, T, dqk, dv, -double(slope), scale);
    }
  }
  emit(trace, layer_name(layer, "attn_raw"), o);
  kernels::group_norm(o.data(), o.data(), T, H, dv, kGroupNormEps);
  emit(trace, layer_name(layer, "groupnorm_out"), o);
  project(out, o.data(), lw.wo, T);
}

void Transformer::softmax_attention(float* out, const float* z, std::int64_t T, std::int64_t pos, LayerState& ls,
                                    const LayerWeights& lw, int layer, const TraceFn& trace) const {
  const std::int64_t H = c_.n_heads, Hkv = c_.n_kv_heads, d = c_.qk_dim, dv = c_.v_dim, r = H / Hkv;
  Buffer q = zeros(T * H * d), k = zeros(T * Hkv * d), v = zeros(T * Hkv * dv);
  project(q.data(), z, lw.wq, T);
  project(k.data(), z, lw.wk, T);
  project(v.data(), z, lw.wv, T);
  if (c_.rotary) {
    kernels::rope(q.data(), T, H, d, d, pos, inv_freq_.data());
    kernels::rope(k.data(), T, Hkv, d, d, pos, inv_freq_.data());
  }
  emit(trace, layer_name(layer, "q"), q);
  // The cache keeps post-rotary keys and values of the kv heads; repetition is by indexing.
  ls.keys.insert(ls.keys.end(), k.begin(), k.end());
  ls.values.insert(ls.values.end(), v.begin(), v.end());
  const float scale = float(1.0 / std::sqrt(double(d)));
  Buffer o = zeros(T * H * dv);
  const std::int64_t keys = pos + T;
  // One task per kv group: its r query heads share one read of the group's cached keys and values.
#pragma omp parallel for schedule(static) if (T * keys * d * r >= kMinThreadedSoftmaxWork)
  for (std::int64_t g = 0; g < Hkv; ++g)
    kernels::softmax_attention(&o[g * r * dv], H * dv, &q[g * r * d], H * d, r, &ls.keys[g * d], Hkv * d,
                               &ls.values[g * dv], Hkv * dv, T, pos, d, dv, scale);
  emit(trace, layer_name(layer, "attn_raw"), o);
  project(out, o.data(), lw.wo, T);
}

void Transformer::feed_forward(float* x, std::int64_t T, const LayerWeights& lw) const {
  const std::int64_t D = c_.dim, F = c_.ffn_dim;
  Buffer z = zeros(T * D), gate = zeros(T * F), up = zeros(T * F), down = zeros(T * D);
  kernels::rmsnorm(z.data(), x, lw.ffn_norm.data(), T, D, c_.norm_eps);
  project(gate.data(), z.data(), lw.w_gate, T);
  project(up.data(), z.data(), lw.w_up, T);
  kernels::silu_mul(gate.data(), gate.data(), up.data(), T * F);
  project(down.data(), gate.data(), lw.w_down, T);
  for (std::int64_t j = 0; j < T * D; ++j) x[j] += down[j];
}

}  // namespace supra
