// TrainableModel: inference's forward pass with a tape of what the backward pass needs, the
// loss, and the backward pass (reverse of the forward, one kernel at a time).
#include "train/trainable_model.h"

#include <cmath>
#include <cstring>
#include <string>

#include "kernels/backward.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "model/transformer.h"
#include "supra/checkpoint.h"
#include "supra/error.h"
#include "train/model_layout.h"

namespace supra::train {
namespace {

using Buffer = std::vector<float>;
using Layout = TrainableModel::Layout;

Buffer zeros(std::int64_t n) { return Buffer(static_cast<std::size_t>(n), 0.0f); }

// The backward of the GQA repeat (spec §3.3): each kv head receives the sum over its query heads.
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

// One forward pass over B rows of T tokens: the ids, inference's working buffers (acts.logits
// [N, V], which the loss turns into dL/dlogits in place) and what the backward pass reads.
struct Pass {
  std::vector<TokenId> ids, targets;  // [N]
  Activations acts;
  Tape tape;
};

// The calling thread's Pass, kept from call to call: a training loop allocates its buffers once
// (fresh pages for every step's activations cost more than the forward's copies to the tape).
Pass& thread_pass() {
  thread_local Pass pass;
  pass.ids.clear();
  pass.targets.clear();
  return pass;
}

const std::byte* bytes_of(const void* p) { return static_cast<const std::byte*>(p); }

// One forward (and optionally backward) computation over fixed parameters and precision. The
// forward pass is inference's (Transformer::run, every row of the batch through the same
// matrix products, from empty states) over weights that are views of the parameters; its tape
// keeps what the backward pass reads.
class Runner {
 public:
  Runner(const ModelConfig& c, const Layout& l, const ParameterSet& p, ComputePrecision precision)
      : c_(c), l_(l), p_(p), bf16_(precision == ComputePrecision::BF16) {
    if (bf16_) {
      // BF16 compute: every weight matrix enters the products rounded to bfloat16, stored so
      // for the forward's bf16 matmuls and widened back for the backward's float32 products.
      halves_.resize(p.all().size());
      rounded_.resize(p.all().size());
      for (std::size_t i = 0; i < p.all().size(); ++i) {
        const Buffer& data = p.all()[i].data;
        if (p.all()[i].shape.size() != 2) continue;
        halves_[i].resize(data.size());
        kernels::round_to_bf16(halves_[i].data(), data.data(), static_cast<std::int64_t>(data.size()));
        rounded_[i].resize(data.size());
        for (std::size_t j = 0; j < data.size(); ++j) rounded_[i][j] = bf16_to_f32(halves_[i][j]);
      }
    }
    bind_weights();
  }

  void forward(Pass& a, std::int64_t B, std::int64_t T) const;
  void backward(Pass& a, std::int64_t B, std::int64_t T, std::vector<float*>& grads) const;

 private:
  // The inference view of the parameters: matrices in the compute precision (the embedding is
  // looked up in float32 whatever the precision), vectors copied.
  void bind_weights();
  kernels::Matrix matrix(const Layout::Mat& m) const {
    if (bf16_) return {DType::BF16, m.rows, m.cols, bytes_of(halves_[m.param].data() + m.row0 * m.cols)};
    return {DType::F32, m.rows, m.cols, bytes_of(p_.all()[m.param].data.data() + m.row0 * m.cols)};
  }
  const float* weight(const Layout::Mat& m) const {
    const Buffer& src = bf16_ ? rounded_[m.param] : p_.all()[m.param].data;
    return src.data() + m.row0 * m.cols;
  }
  const float* vec(const Layout::Vec& v) const { return p_.all()[v.param].data.data(); }
  static float* grad(std::vector<float*>& g, const Layout::Mat& m) { return g[m.param] + m.row0 * m.cols; }
  static float* grad(std::vector<float*>& g, const Layout::Vec& v) { return g[v.param]; }

  // dx += dy · m, dW(m) += dyᵀ · x, with the inputs rounded as the precision asks.
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

  // The backward of rotary (§3.5) on the gradients of q [N, Hq·width] and k [N, Hk·width],
  // every sequence from position 0, on the first `rotated` features of each head.
  void unrotate(Buffer& dq, std::int64_t Hq, Buffer& dk, std::int64_t Hk, std::int64_t width, std::int64_t rotated,
                std::int64_t B, std::int64_t T) const {
    if (!c_.rotary) return;
    for (std::int64_t b = 0; b < B; ++b) {
      kernels::rope_backward(&dq[b * T * Hq * width], T, Hq, width, rotated, 0, l_.inv_freq.data());
      kernels::rope_backward(&dk[b * T * Hk * width], T, Hk, width, rotated, 0, l_.inv_freq.data());
    }
  }

  void linear_attention_back(Buffer& dz, const Buffer& dg, LayerTape& a, const Layout::Layer& w,
                             std::vector<float*>& g, std::int64_t B, std::int64_t T) const;
  void softmax_attention_back(Buffer& dz, const Buffer& d_o, LayerTape& a, const Layout::Layer& w,
                              std::vector<float*>& g, std::int64_t B, std::int64_t T) const;

  const ModelConfig& c_;
  const Layout& l_;
  const ParameterSet& p_;
  bool bf16_;
  std::vector<std::vector<std::uint16_t>> halves_;  // BF16: the matrices rounded, as bf16 (by parameter index)
  std::vector<Buffer> rounded_;                     // BF16: the same widened to float32
  Weights weights_;
};

void Runner::bind_weights() {
  weights_.layers.resize(l_.layers.size());
  for (const Layout::Binding& b : l_.bindings) {
    const Buffer& data = p_.all()[b.mat.param].data;
    if (b.mat.cols == 0)
      vector_field(weights_, b.layer, b.role) = data;
    else if (b.role == TensorRole::Embed)  // looked up, not multiplied: float32 whatever the precision
      weights_.embed = {DType::F32, b.mat.rows, b.mat.cols, bytes_of(data.data() + b.mat.row0 * b.mat.cols)};
    else
      matrix_field(weights_, b.layer, b.role) = matrix(b.mat);
  }
}

void Runner::forward(Pass& a, std::int64_t B, std::int64_t T) const {
  const Transformer transformer(c_, weights_);
  std::vector<State> states(static_cast<std::size_t>(B), transformer.new_state());
  std::vector<SequenceStep> steps;
  for (std::int64_t b = 0; b < B; ++b)
    steps.push_back({std::span<const TokenId>(a.ids).subspan(static_cast<std::size_t>(b * T), static_cast<std::size_t>(T)),
                     &states[static_cast<std::size_t>(b)], AttentionPath::Block, LogitsWanted::All});
  // Rows of equal length keep their order: row b·T + t of every buffer is token t of row b.
  transformer.run(steps, a.acts, {}, /*fused=*/true, &a.tape);
}

void Runner::backward(Pass& a, std::int64_t B, std::int64_t T, std::vector<float*>& g) const {
  const std::int64_t N = B * T, D = c_.dim, F = c_.ffn_dim;
  const bool linear_attn = c_.attention == AttentionKind::Linear;
  // a.acts.logits holds dL/dlogits here.
  Buffer dz = zeros(N * D);
  linear_back(dz, g, a.acts.logits, a.tape.z_final, l_.output, N);
  Buffer dx = zeros(N * D);
  kernels::rmsnorm_backward(dx.data(), grad(g, l_.final_norm), dz.data(), a.tape.x_final.data(), vec(l_.final_norm),
                            N, D, c_.norm_eps);
  for (std::size_t i = l_.layers.size(); i-- > 0;) {
    const Layout::Layer& w = l_.layers[i];
    LayerTape& la = a.tape.layers[i];
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
  }
  kernels::embedding_backward(g[l_.embed.param], dx.data(), a.ids.data(), N, D);
}

void Runner::linear_attention_back(Buffer& dz, const Buffer& dg, LayerTape& a, const Layout::Layer& w,
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
  unrotate(dqa, H, dka, H, dqk, dh, B, T);
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

void Runner::softmax_attention_back(Buffer& dz, const Buffer& d_o, LayerTape& a, const Layout::Layer& w,
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
  unrotate(dq, H, dk, Hkv, d, d, B, T);
  linear_back(dz, g, dq, a.z, w.wq, N);
  linear_back(dz, g, dk, a.z, w.wk, N);
  linear_back(dz, g, dvb, a.z, w.wv, N);
}

// Splits B rows of T+1 tokens into inputs and targets; checks sizes and ids.
void split_tokens(Pass& a, std::span<const TokenId> tokens, std::int64_t B, std::int64_t T, int V) {
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
  Pass& a = thread_pass();
  split_tokens(a, tokens, B, T, config_.vocab_size);
  const Runner runner(config_, *layout_, params_, precision);
  runner.forward(a, B, T);
  const std::int64_t N = B * T;
  const auto sums =
      kernels::cross_entropy_zloss(a.acts.logits.data(), a.acts.logits.data(), a.targets.data(), N, config_.vocab_size,
                                   z_loss_coef);
  runner.backward(a, B, T, g);
  return loss_terms(sums, N, z_loss_coef);
}

LossTerms TrainableModel::loss(std::span<const TokenId> tokens, std::int64_t B, std::int64_t T, double z_loss_coef,
                               ComputePrecision precision) const {
  Pass& a = thread_pass();
  split_tokens(a, tokens, B, T, config_.vocab_size);
  Runner(config_, *layout_, params_, precision).forward(a, B, T);
  const std::int64_t N = B * T;
  return loss_terms(
      kernels::cross_entropy_zloss(nullptr, a.acts.logits.data(), a.targets.data(), N, config_.vocab_size, z_loss_coef),
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
  Pass& a = thread_pass();
  a.ids.assign(inputs.begin(), inputs.end());
  Runner(config_, *layout_, params_, precision).forward(a, B, T);
  return std::vector<float>(a.acts.logits.begin(), a.acts.logits.begin() + B * T * config_.vocab_size);
}

}  // namespace supra::train
