// TrainableModel: the parallel-mode forward pass keeping every activation the backward pass
// needs, the loss, and the backward pass (reverse of the forward, one kernel at a time).
#include "train/trainable_model.h"

#include <cmath>
#include <cstring>
#include <string>

#include "kernels/backward.h"
#include "kernels/kernels.h"
#include "supra/checkpoint.h"
#include "supra/error.h"
#include "train/model_layout.h"

namespace supra::train {
namespace {

using Buffer = std::vector<float>;
using Layout = TrainableModel::Layout;

constexpr float kGroupNormEps = 1e-5f;  // nn.GroupNorm's default (spec §3.9)

Buffer zeros(std::int64_t n) { return Buffer(static_cast<std::size_t>(n), 0.0f); }

void add_into(Buffer& y, const Buffer& x) {
  for (std::size_t i = 0; i < y.size(); ++i) y[i] += x[i];
}

// Query-head view of kv-head rows (spec §3.3).
Buffer repeat_heads(const Buffer& src, std::int64_t N, std::int64_t Hkv, std::int64_t H, std::int64_t d) {
  Buffer dst = zeros(N * H * d);
  kernels::repeat_kv_heads(dst.data(), src.data(), N, Hkv, H, d);
  return dst;
}

// The backward of repeat_heads: each kv head receives the sum over its query heads.
Buffer sum_heads(const Buffer& src, std::int64_t N, std::int64_t Hkv, std::int64_t H, std::int64_t d) {
  Buffer dst = zeros(N * Hkv * d);
  const std::int64_t r = H / Hkv;
  for (std::int64_t t = 0; t < N; ++t)
    for (std::int64_t h = 0; h < H; ++h) {
      float* out = &dst[(t * Hkv + h / r) * d];
      const float* in = &src[(t * H + h) * d];
      for (std::int64_t i = 0; i < d; ++i) out[i] += in[i];
    }
  return dst;
}

// What the forward pass keeps of one decoder block.
struct LayerActs {
  Buffer x_in, z;                 // block input, attention-norm output
  Buffer q, k, v;                 // projections ([N, H·w], [N, Hkv·w], [N, Hkv·dv])
  Buffer qf, kf;                  // SUPRA: ReLU features [N, H·dqk], [N, Hkv·dqk]
  Buffer kr;                      // SUPRA: features repeated to H heads (qk-norm input)
  Buffer qa, ka, va;              // SUPRA: what the attention core read (post rotary) [N, H·*]
  Buffer o, g;                    // raw attention output; its GroupNorm (SUPRA) = out_proj input
  Buffer h, z2, gate, up, act;    // after the attention residual; the MLP
};

struct Activations {
  std::vector<TokenId> ids, targets;  // [N]
  std::vector<LayerActs> layers;
  Buffer x_final, z_final;            // last residual, final-norm output
  Buffer logits;                      // [N, V]
};

// One forward (and optionally backward) computation over fixed parameters and precision.
class Runner {
 public:
  Runner(const ModelConfig& c, const Layout& l, const ParameterSet& p, ComputePrecision precision)
      : c_(c), l_(l), p_(p), bf16_(precision == ComputePrecision::BF16) {
    if (!bf16_) return;
    // BF16 compute: every weight matrix enters the products rounded to bfloat16.
    rounded_.resize(p.all().size());
    for (std::size_t i = 0; i < p.all().size(); ++i) {
      if (p.all()[i].shape.size() != 2) continue;
      rounded_[i] = p.all()[i].data;
      kernels::round_to_bf16(rounded_[i].data(), static_cast<std::int64_t>(rounded_[i].size()));
    }
  }

  void forward(Activations& a, std::int64_t B, std::int64_t T) const;
  void backward(Activations& a, std::int64_t B, std::int64_t T, std::vector<float*>& grads) const;

 private:
  const float* weight(const Layout::Mat& m) const {
    const Buffer& src = bf16_ ? rounded_[m.param] : p_.all()[m.param].data;
    return src.data() + m.row0 * m.cols;
  }
  const float* vec(const Layout::Vec& v) const { return p_.all()[v.param].data.data(); }
  static float* grad(std::vector<float*>& g, const Layout::Mat& m) { return g[m.param] + m.row0 * m.cols; }
  static float* grad(std::vector<float*>& g, const Layout::Vec& v) { return g[v.param]; }

  // y[N, m.rows] = x · mᵀ with the inputs rounded as the precision asks.
  Buffer linear(const Buffer& x, const Layout::Mat& m, std::int64_t N) const {
    Buffer y = zeros(N * m.rows);
    if (bf16_) {
      Buffer xr = x;
      kernels::round_to_bf16(xr.data(), N * m.cols);
      kernels::linear_forward(y.data(), xr.data(), weight(m), N, m.rows, m.cols);
    } else {
      kernels::linear_forward(y.data(), x.data(), weight(m), N, m.rows, m.cols);
    }
    return y;
  }
  // dx += dy · m, dW(m) += dyᵀ · x.
  void linear_back(Buffer& dx, std::vector<float*>& g, const Buffer& dy, const Buffer& x, const Layout::Mat& m,
                   std::int64_t N) const {
    if (bf16_) {
      Buffer xr = x, dyr = dy;
      kernels::round_to_bf16(xr.data(), N * m.cols);
      kernels::round_to_bf16(dyr.data(), N * m.rows);
      kernels::linear_backward(dx.data(), grad(g, m), dyr.data(), xr.data(), weight(m), N, m.rows, m.cols);
    } else {
      kernels::linear_backward(dx.data(), grad(g, m), dy.data(), x.data(), weight(m), N, m.rows, m.cols);
    }
  }

  // Rotary (§3.5) of q [N, Hq·width] and k [N, Hk·width], every sequence from position 0, on
  // the first `rotated` features of each head: `rope`, or `rope_backward` on their gradients.
  template <typename Rope>
  void rotate(Buffer& q, std::int64_t Hq, Buffer& k, std::int64_t Hk, std::int64_t width, std::int64_t rotated,
              std::int64_t B, std::int64_t T, Rope rope) const {
    if (!c_.rotary) return;
    for (std::int64_t b = 0; b < B; ++b) {
      rope(&q[b * T * Hq * width], T, Hq, width, rotated, 0, l_.inv_freq.data());
      rope(&k[b * T * Hk * width], T, Hk, width, rotated, 0, l_.inv_freq.data());
    }
  }

  void linear_attention(LayerActs& a, const Layout::Layer& w, std::int64_t B, std::int64_t T) const;
  void linear_attention_back(Buffer& dz, const Buffer& dg, LayerActs& a, const Layout::Layer& w,
                             std::vector<float*>& g, std::int64_t B, std::int64_t T) const;
  void softmax_attention(LayerActs& a, std::int64_t B, std::int64_t T) const;
  void softmax_attention_back(Buffer& dz, const Buffer& d_o, LayerActs& a, const Layout::Layer& w,
                              std::vector<float*>& g, std::int64_t B, std::int64_t T) const;

  const ModelConfig& c_;
  const Layout& l_;
  const ParameterSet& p_;
  bool bf16_;
  std::vector<Buffer> rounded_;  // BF16 copies of the matrices (by parameter index)
};

void Runner::forward(Activations& a, std::int64_t B, std::int64_t T) const {
  const std::int64_t N = B * T, D = c_.dim, F = c_.ffn_dim;
  const bool linear_attn = c_.attention == AttentionKind::Linear;
  const float* embed = p_.all()[l_.embed.param].data.data();
  Buffer x = zeros(N * D);
  for (std::int64_t t = 0; t < N; ++t)
    std::memcpy(&x[t * D], embed + std::int64_t{a.ids[t]} * D, static_cast<std::size_t>(D) * sizeof(float));

  a.layers.resize(l_.layers.size());
  for (std::size_t i = 0; i < l_.layers.size(); ++i) {
    const Layout::Layer& w = l_.layers[i];
    LayerActs& la = a.layers[i];
    la.x_in = std::move(x);
    la.z = zeros(N * D);
    kernels::rmsnorm(la.z.data(), la.x_in.data(), vec(w.attn_norm), N, D, c_.norm_eps);
    la.q = linear(la.z, w.wq, N);  // projections (§3.1)
    la.k = linear(la.z, w.wk, N);
    la.v = linear(la.z, w.wv, N);
    if (linear_attn)
      linear_attention(la, w, B, T);
    else
      softmax_attention(la, B, T);
    la.h = linear(la.g, w.wo, N);
    add_into(la.h, la.x_in);
    la.z2 = zeros(N * D);
    kernels::rmsnorm(la.z2.data(), la.h.data(), vec(w.ffn_norm), N, D, c_.norm_eps);
    la.gate = linear(la.z2, w.w_gate, N);
    la.up = linear(la.z2, w.w_up, N);
    la.act = zeros(N * F);
    kernels::silu_mul(la.act.data(), la.gate.data(), la.up.data(), N * F);
    x = linear(la.act, w.w_down, N);
    add_into(x, la.h);
  }
  a.x_final = std::move(x);
  a.z_final = zeros(N * D);
  kernels::rmsnorm(a.z_final.data(), a.x_final.data(), vec(l_.final_norm), N, D, c_.norm_eps);
  a.logits = linear(a.z_final, l_.output, N);
}

void Runner::linear_attention(LayerActs& a, const Layout::Layer& w, std::int64_t B, std::int64_t T) const {
  const std::int64_t N = B * T, H = c_.n_heads, Hkv = c_.n_kv_heads, dh = c_.head_dim, dqk = c_.qk_dim,
                     dv = c_.v_dim;
  // ReLU feature maps over all heads at once (§3.2).
  a.qf = linear(a.q, w.feat_q, N);
  kernels::add_bias(a.qf.data(), vec(w.feat_q_bias), N, H * dqk);
  kernels::relu(a.qf.data(), N * H * dqk);
  a.kf = linear(a.k, w.feat_k, N);
  kernels::add_bias(a.kf.data(), vec(w.feat_k_bias), N, Hkv * dqk);
  kernels::relu(a.kf.data(), N * Hkv * dqk);
  // GQA repeat (§3.3), qk-norm over all H·dqk features (§3.4), rotary per row (§3.5).
  a.kr = repeat_heads(a.kf, N, Hkv, H, dqk);
  a.va = repeat_heads(a.v, N, Hkv, H, dv);
  a.qa = a.qf;
  a.ka = a.kr;
  if (c_.qk_norm) {
    kernels::rmsnorm(a.qa.data(), a.qf.data(), vec(w.q_norm), N, H * dqk, c_.norm_eps);
    kernels::rmsnorm(a.ka.data(), a.kr.data(), vec(w.k_norm), N, H * dqk, c_.norm_eps);
  }
  rotate(a.qa, H, a.ka, H, dqk, dh, B, T, kernels::rope);
  // Decayed causal linear attention per (row, head) from a zero state (§3.7).
  const float scale = float(1.0 / std::sqrt(double(dqk)));
  a.o = zeros(N * H * dv);
#pragma omp parallel for schedule(dynamic)
  for (std::int64_t bh = 0; bh < B * H; ++bh) {
    const std::int64_t b = bh / H, h = bh % H;
    Buffer S = zeros(dqk * dv);
    const std::int64_t row = b * T;
    kernels::linear_attention_block(&a.o[row * H * dv + h * dv], H * dv, S.data(), &a.qa[row * H * dqk + h * dqk],
                                    H * dqk, &a.ka[row * H * dqk + h * dqk], H * dqk, &a.va[row * H * dv + h * dv],
                                    H * dv, T, dqk, dv, -double(l_.slopes[static_cast<std::size_t>(h)]), scale);
  }
  a.g = zeros(N * H * dv);
  kernels::group_norm(a.g.data(), a.o.data(), N, H, dv, kGroupNormEps);
}

void Runner::softmax_attention(LayerActs& a, std::int64_t B, std::int64_t T) const {
  const std::int64_t N = B * T, H = c_.n_heads, Hkv = c_.n_kv_heads, d = c_.qk_dim, dv = c_.v_dim, r = H / Hkv;
  rotate(a.q, H, a.k, Hkv, d, d, B, T, kernels::rope);
  const float scale = float(1.0 / std::sqrt(double(d)));
  a.o = zeros(N * H * dv);
#pragma omp parallel for schedule(dynamic)
  for (std::int64_t bh = 0; bh < B * H; ++bh) {
    const std::int64_t b = bh / H, h = bh % H, kv = h / r, row = b * T;
    kernels::softmax_attention_forward(&a.o[row * H * dv + h * dv], H * dv, &a.q[row * H * d + h * d], H * d,
                                       &a.k[row * Hkv * d + kv * d], Hkv * d, &a.v[row * Hkv * dv + kv * dv],
                                       Hkv * dv, T, d, dv, scale);
  }
  a.g = a.o;  // no GroupNorm in the teacher: out_proj reads o
}

void Runner::backward(Activations& a, std::int64_t B, std::int64_t T, std::vector<float*>& g) const {
  const std::int64_t N = B * T, D = c_.dim, F = c_.ffn_dim;
  const bool linear_attn = c_.attention == AttentionKind::Linear;
  // a.logits holds dL/dlogits here.
  Buffer dz = zeros(N * D);
  linear_back(dz, g, a.logits, a.z_final, l_.output, N);
  Buffer dx = zeros(N * D);
  kernels::rmsnorm_backward(dx.data(), grad(g, l_.final_norm), dz.data(), a.x_final.data(), vec(l_.final_norm), N,
                            D, c_.norm_eps);
  for (std::size_t i = l_.layers.size(); i-- > 0;) {
    const Layout::Layer& w = l_.layers[i];
    LayerActs& la = a.layers[i];
    // MLP: x_out = h + down(silu(gate) ⊙ up); dx becomes dh.
    Buffer dact = zeros(N * F);
    linear_back(dact, g, dx, la.act, w.w_down, N);
    Buffer dgate = zeros(N * F), dup = zeros(N * F);
    kernels::silu_mul_backward(dgate.data(), dup.data(), dact.data(), la.gate.data(), la.up.data(), N * F);
    std::fill(dz.begin(), dz.end(), 0.0f);
    linear_back(dz, g, dgate, la.z2, w.w_gate, N);
    linear_back(dz, g, dup, la.z2, w.w_up, N);
    kernels::rmsnorm_backward(dx.data(), grad(g, w.ffn_norm), dz.data(), la.h.data(), vec(w.ffn_norm), N, D,
                              c_.norm_eps);
    // Attention: h = x_in + out_proj(g); dx becomes d(x_in).
    Buffer dgn = zeros(N * c_.n_heads * c_.v_dim);
    linear_back(dgn, g, dx, la.g, w.wo, N);
    std::fill(dz.begin(), dz.end(), 0.0f);
    if (linear_attn)
      linear_attention_back(dz, dgn, la, w, g, B, T);
    else
      softmax_attention_back(dz, dgn, la, w, g, B, T);
    kernels::rmsnorm_backward(dx.data(), grad(g, w.attn_norm), dz.data(), la.x_in.data(), vec(w.attn_norm), N, D,
                              c_.norm_eps);
    la = LayerActs{};  // free as we go
  }
  kernels::embedding_backward(g[l_.embed.param], dx.data(), a.ids.data(), N, D);
}

void Runner::linear_attention_back(Buffer& dz, const Buffer& dg, LayerActs& a, const Layout::Layer& w,
                                   std::vector<float*>& g, std::int64_t B, std::int64_t T) const {
  const std::int64_t N = B * T, H = c_.n_heads, Hkv = c_.n_kv_heads, dh = c_.head_dim, dqk = c_.qk_dim,
                     dv = c_.v_dim;
  Buffer d_o = zeros(N * H * dv);
  kernels::group_norm_backward(d_o.data(), dg.data(), a.o.data(), N, H, dv, kGroupNormEps);
  const float scale = float(1.0 / std::sqrt(double(dqk)));
  Buffer dqa = zeros(N * H * dqk), dka = zeros(N * H * dqk), dva = zeros(N * H * dv);
#pragma omp parallel for schedule(dynamic)
  for (std::int64_t bh = 0; bh < B * H; ++bh) {
    const std::int64_t b = bh / H, h = bh % H, row = b * T;
    const std::int64_t qo = row * H * dqk + h * dqk, vo = row * H * dv + h * dv;
    kernels::linear_attention_backward(&dqa[qo], &dka[qo], &dva[vo], &d_o[vo], H * dv, &a.qa[qo], H * dqk, &a.ka[qo],
                                       H * dqk, &a.va[vo], H * dv, T, dqk, dv,
                                       -double(l_.slopes[static_cast<std::size_t>(h)]), scale);
  }
  rotate(dqa, H, dka, H, dqk, dh, B, T, kernels::rope_backward);
  Buffer dqf = std::move(dqa), dkr = std::move(dka);
  if (c_.qk_norm) {
    Buffer dq_in = zeros(N * H * dqk), dk_in = zeros(N * H * dqk);
    kernels::rmsnorm_backward(dq_in.data(), grad(g, w.q_norm), dqf.data(), a.qf.data(), vec(w.q_norm), N, H * dqk,
                              c_.norm_eps);
    kernels::rmsnorm_backward(dk_in.data(), grad(g, w.k_norm), dkr.data(), a.kr.data(), vec(w.k_norm), N, H * dqk,
                              c_.norm_eps);
    dqf = std::move(dq_in);
    dkr = std::move(dk_in);
  }
  Buffer dkf = sum_heads(dkr, N, Hkv, H, dqk);
  Buffer dv_kv = sum_heads(dva, N, Hkv, H, dv);
  kernels::relu_backward(dqf.data(), a.qf.data(), N * H * dqk);
  kernels::relu_backward(dkf.data(), a.kf.data(), N * Hkv * dqk);
  Buffer dq = zeros(N * H * dh), dk = zeros(N * Hkv * dh);
  linear_back(dq, g, dqf, a.q, w.feat_q, N);
  kernels::bias_backward(grad(g, w.feat_q_bias), dqf.data(), N, H * dqk);
  linear_back(dk, g, dkf, a.k, w.feat_k, N);
  kernels::bias_backward(grad(g, w.feat_k_bias), dkf.data(), N, Hkv * dqk);
  linear_back(dz, g, dq, a.z, w.wq, N);
  linear_back(dz, g, dk, a.z, w.wk, N);
  linear_back(dz, g, dv_kv, a.z, w.wv, N);
}

void Runner::softmax_attention_back(Buffer& dz, const Buffer& d_o, LayerActs& a, const Layout::Layer& w,
                                    std::vector<float*>& g, std::int64_t B, std::int64_t T) const {
  const std::int64_t N = B * T, H = c_.n_heads, Hkv = c_.n_kv_heads, d = c_.qk_dim, dv = c_.v_dim, r = H / Hkv;
  const float scale = float(1.0 / std::sqrt(double(d)));
  Buffer dq = zeros(N * H * d), dk = zeros(N * Hkv * d), dvb = zeros(N * Hkv * dv);
  // One task per (row, kv head): the query heads sharing a kv head accumulate into it in turn.
#pragma omp parallel for schedule(dynamic)
  for (std::int64_t bk = 0; bk < B * Hkv; ++bk) {
    const std::int64_t b = bk / Hkv, kv = bk % Hkv, row = b * T;
    for (std::int64_t h = kv * r; h < (kv + 1) * r; ++h)
      kernels::softmax_attention_backward(&dq[row * H * d + h * d], &dk[row * Hkv * d + kv * d],
                                          &dvb[row * Hkv * dv + kv * dv], &d_o[row * H * dv + h * dv], H * dv,
                                          &a.q[row * H * d + h * d], H * d, &a.k[row * Hkv * d + kv * d], Hkv * d,
                                          &a.v[row * Hkv * dv + kv * dv], Hkv * dv, T, d, dv, scale);
  }
  rotate(dq, H, dk, Hkv, d, d, B, T, kernels::rope_backward);
  linear_back(dz, g, dq, a.z, w.wq, N);
  linear_back(dz, g, dk, a.z, w.wk, N);
  linear_back(dz, g, dvb, a.z, w.wv, N);
}

// Splits B rows of T+1 tokens into inputs and targets; checks sizes and ids.
void split_tokens(Activations& a, std::span<const TokenId> tokens, std::int64_t B, std::int64_t T, int V) {
  if (B <= 0 || T <= 0) throw Error("training batch needs B > 0 and T > 0");
  if (static_cast<std::int64_t>(tokens.size()) != B * (T + 1))
    throw Error("training batch has " + std::to_string(tokens.size()) + " tokens, expected B·(T+1) = " +
                std::to_string(B * (T + 1)));
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= V)
      throw Error("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                  " is out of range for a vocabulary of " + std::to_string(V));
  a.ids.reserve(static_cast<std::size_t>(B * T));
  a.targets.reserve(static_cast<std::size_t>(B * T));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < T; ++t) {
      a.ids.push_back(tokens[static_cast<std::size_t>(b * (T + 1) + t)]);
      a.targets.push_back(tokens[static_cast<std::size_t>(b * (T + 1) + t + 1)]);
    }
}

LossTerms loss_terms(const kernels::CrossEntropySums& sums, std::int64_t N, double z_coef) {
  LossTerms l;
  l.positions = N;
  l.ce = sums.ce / double(N);
  l.z_loss = z_coef * sums.lse_sq / double(N);
  l.loss = l.ce + l.z_loss;
  return l;
}

}  // namespace

TrainableModel::TrainableModel(ModelConfig config, ParameterSet params)
    : config_(std::move(config)), params_(std::move(params)) {
  layout_ = bind_layout(config_, params_);
}

TrainableModel TrainableModel::load(const std::filesystem::path& folder) {
  ModelConfig config = ModelConfig::load_folder(folder);
  return TrainableModel(std::move(config), load_parameters(Checkpoint::open_folder(folder)));
}

LossTerms TrainableModel::forward_backward(std::span<const TokenId> tokens, std::int64_t B, std::int64_t T,
                                           double z_loss_coef, ParameterSet& grads,
                                           ComputePrecision precision) const {
  std::vector<float*> g(params_.all().size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    const Parameter& p = params_.all()[i];
    if (!grads.has(p.name) || grads.at(p.name).shape != p.shape)
      throw Error("gradient set does not match the parameters at " + p.name);
    g[i] = grads.at(p.name).data.data();
  }
  Activations a;
  split_tokens(a, tokens, B, T, config_.vocab_size);
  const Runner runner(config_, *layout_, params_, precision);
  runner.forward(a, B, T);
  const std::int64_t N = B * T;
  const auto sums =
      kernels::cross_entropy_zloss(a.logits.data(), a.logits.data(), a.targets.data(), N, config_.vocab_size,
                                   z_loss_coef);
  runner.backward(a, B, T, g);
  return loss_terms(sums, N, z_loss_coef);
}

LossTerms TrainableModel::loss(std::span<const TokenId> tokens, std::int64_t B, std::int64_t T, double z_loss_coef,
                               ComputePrecision precision) const {
  Activations a;
  split_tokens(a, tokens, B, T, config_.vocab_size);
  Runner(config_, *layout_, params_, precision).forward(a, B, T);
  const std::int64_t N = B * T;
  return loss_terms(
      kernels::cross_entropy_zloss(nullptr, a.logits.data(), a.targets.data(), N, config_.vocab_size, z_loss_coef),
      N, z_loss_coef);
}

std::vector<float> TrainableModel::logits(std::span<const TokenId> inputs, std::int64_t B, std::int64_t T,
                                          ComputePrecision precision) const {
  if (B <= 0 || T <= 0 || static_cast<std::int64_t>(inputs.size()) != B * T)
    throw Error("logits: expected B·T = " + std::to_string(B * T) + " input ids, got " +
                std::to_string(inputs.size()));
  for (TokenId id : inputs)
    if (id < 0 || id >= config_.vocab_size)
      throw Error("token id " + std::to_string(id) + " is out of range for a vocabulary of " +
                  std::to_string(config_.vocab_size));
  Activations a;
  a.ids.assign(inputs.begin(), inputs.end());
  Runner(config_, *layout_, params_, precision).forward(a, B, T);
  return std::move(a.logits);
}

}  // namespace supra::train
