#include "model/transformer.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/thread_pool.h"
#include "model/positional.h"

namespace supra {
namespace {

// Attention work (multiply-adds) below which the attention tasks run on one thread (a team
// costs more). Chunked linear attention is threaded over heads from this much work per head,
// as before batching. Recurrent steps (S read and written once each, no GEMM) go to the spinning
// pool from this much work over the whole batch: a few sequences' steps, not one sequence's.
// Softmax kv groups are threaded from less: each is a pair of GEMMs over the whole cache, and
// in decode (T = 1) that is a few thousand keys; the GEMMs then run on their group's thread.
constexpr std::int64_t kMinThreadedHeadWork = std::int64_t{1} << 20;
constexpr std::int64_t kMinThreadedStepWork = std::int64_t{1} << 19;
constexpr std::int64_t kMinThreadedSoftmaxWork = std::int64_t{1} << 15;

// Shows the first n values of a buffer to the trace under "l{layer}.{what}" ("{what}" for a
// negative layer). The name is built only when there is a trace: no allocation otherwise.
void emit(const TraceFn& trace, int layer, const char* what, const std::vector<float>& buffer, std::int64_t n) {
  if (!trace) return;
  const std::string name = layer < 0 ? std::string(what) : "l" + std::to_string(layer) + "." + what;
  trace(name, std::span<const float>(buffer.data(), static_cast<std::size_t>(n)));
}

std::int64_t tokens(const SequenceStep& s) { return static_cast<std::int64_t>(s.ids.size()); }

// Copies the first n values of a working buffer onto the tape, when there is one: for buffers
// the forward goes on changing in place.
void keep(std::vector<float>* to, const std::vector<float>& from, std::int64_t n) {
  if (to != nullptr) to->assign(from.begin(), from.begin() + n);
}

// Hands a working buffer the run no longer reads to the tape, when there is one, taking the
// tape's previous buffer in exchange (grown back to the working size): no copy, and no
// allocation once both have grown.
void hand_over(std::vector<float>& working, std::vector<float>* to) {
  if (to == nullptr) return;
  const std::size_t size = working.size();
  std::swap(working, *to);
  if (working.size() < size) working.resize(size);
}

// The tape's field `field` of a layer, or null without a tape.
template <typename Field>
std::vector<float>* on(LayerTape* tape, Field field) {
  return tape != nullptr ? &(tape->*field) : nullptr;
}

}  // namespace

namespace {

// order ← 0 .. n-1 sorted by ascending count (stable: insertion sort, no allocation once the
// vector has grown), and first[i] ← the rows before sequence i in that order.
void order_by_count(std::vector<std::size_t>& order, std::vector<std::int64_t>& first,
                    const std::vector<std::int64_t>& count) {
  const std::size_t n = count.size();
  order.resize(n);
  first.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t j = i;
    for (; j > 0 && count[order[j - 1]] > count[i]; --j) order[j] = order[j - 1];
    order[j] = i;
  }
  std::int64_t row = 0;
  for (const std::size_t i : order) {
    first[i] = row;
    row += count[i];
  }
}

}  // namespace

void Transformer::lay_out(std::span<const SequenceStep> steps, Activations& a) const {
  a.row_count.clear();  // clear() keeps the capacity: no allocation once grown
  a.logit_count.clear();
  for (const SequenceStep& s : steps) {
    a.row_count.push_back(tokens(s));
    a.logit_count.push_back(logit_rows(s));
  }
  order_by_count(a.row_order, a.first_row, a.row_count);
  order_by_count(a.logit_order, a.first_logit, a.logit_count);
}

std::int64_t logit_rows(const SequenceStep& s) {
  switch (s.wanted) {
    case LogitsWanted::All: return tokens(s);
    case LogitsWanted::Last: return s.ids.empty() ? 0 : 1;
    case LogitsWanted::None: return 0;
  }
  return 0;
}

Transformer::Transformer(const ModelConfig& config, const Weights& weights, MatmulObserver observer)
    : c_(config),
      w_(weights),
      inv_freq_(rotary_inv_freq(config)),
      slopes_(decay_slopes(config)),
      observer_(std::move(observer)) {}

void Transformer::project(float* out, const float* x, const kernels::Matrix& w, std::span<const std::int64_t> first,
                          std::span<const std::int64_t> count, std::span<const std::size_t> order, bool fused,
                          Op op) const {
  std::int64_t rows = 0;
  for (const std::int64_t n : count) rows += n;
  if (rows == 0) return;
  if (observer_) observer_(w, x, rows);
  const OpTimer timer(profile_, op);
  if (profile_) (*profile_)[op].weight_bytes += static_cast<std::int64_t>(w.row_bytes()) * w.rows;
  if (fused) return kernels::matmul(out, x, w, rows);
  // The sequences below the GEMM threshold lead the layout: their rows are [0, shared), one
  // pass of the dot-product kernels over the weights for all of them.
  const std::int64_t threshold = kernels::gemm_min_tokens(w.dtype);
  std::int64_t shared = 0;
  std::size_t k = 0;
  for (; k < order.size() && count[order[k]] < threshold; ++k) shared += count[order[k]];
  kernels::matmul_rowwise(out, x, w, shared);
  for (; k < order.size(); ++k) {
    const std::size_t i = order[k];
    kernels::matmul(out + first[i] * w.rows, x + first[i] * w.cols, w, count[i]);
  }
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
  const SequenceStep step{ids, &state, path, wanted};
  Activations acts;
  run(std::span(&step, 1), acts, trace);
  return std::vector<float>(acts.logits.begin(), acts.logits.begin() + logit_rows(step) * c_.vocab_size);
}

void Transformer::run(std::span<const SequenceStep> steps, Activations& a, const TraceFn& trace, bool fused,
                      Tape* tape) const {
  const std::int64_t D = c_.dim;
  std::int64_t R = 0, wanted_rows = 0;
  for (const SequenceStep& s : steps) {
    R += tokens(s);
    wanted_rows += logit_rows(s);
  }
  a.reserve(c_, R, wanted_rows);
  if (R == 0) return;

  lay_out(steps, a);
  a.fused = fused;
  {
    const OpTimer timer(profile_, Op::Embed);
    for (std::size_t i = 0; i < steps.size(); ++i)
      for (std::int64_t t = 0; t < tokens(steps[i]); ++t)
        kernels::copy_row(&a.x[static_cast<std::size_t>((a.first_row[i] + t) * D)], w_.embed, steps[i].ids[t]);
  }
  emit(trace, -1, "embed", a.x, R * D);
  if (tape != nullptr) tape->layers.resize(static_cast<std::size_t>(c_.n_layers));

  for (int i = 0; i < c_.n_layers; ++i) {
    const LayerWeights& lw = w_.layers[i];
    LayerTape* lt = tape != nullptr ? &tape->layers[static_cast<std::size_t>(i)] : nullptr;
    keep(on(lt, &LayerTape::x_in), a.x, R * D);
    {
      const OpTimer timer(profile_, Op::Norm);
      kernels::rmsnorm(a.z.data(), a.x.data(), lw.attn_norm.data(), R, D, c_.norm_eps);
    }
    emit(trace, i, "attn_norm_out", a.z, R * D);
    // q, k, v (spec §3.1 / §4) over all rows, then the attention kind's own work.
    project(a.q.data(), a.z.data(), lw.wq, a, Op::AttnProjection);
    project(a.k.data(), a.z.data(), lw.wk, a, Op::AttnProjection);
    project(a.v.data(), a.z.data(), lw.wv, a, Op::AttnProjection);
    hand_over(a.z, on(lt, &LayerTape::z));
    if (c_.attention == AttentionKind::Linear)
      linear_attention(steps, a, R, i, trace, lt);
    else
      softmax_attention(steps, a, R, i, trace, lt);
    // The projections as the attention read them (softmax: q and k after rotary).
    hand_over(a.q, on(lt, &LayerTape::q));
    hand_over(a.k, on(lt, &LayerTape::k));
    hand_over(a.v, on(lt, &LayerTape::v));
    emit(trace, i, "attn_out", a.attn, R * D);
    {
      const OpTimer timer(profile_, Op::FfnActivation);
      kernels::add(a.x.data(), a.attn.data(), R * D);
    }
    keep(on(lt, &LayerTape::h), a.x, R * D);
    feed_forward(a, R, lw, lt);
    if (trace) trace("hidden." + std::to_string(i + 1), std::span<const float>(a.x.data(), std::size_t(R * D)));
  }
  for (const SequenceStep& s : steps) s.state->position += tokens(s);

  if (wanted_rows == 0) return;
  // Final norm of the rows that want logits (each sequence's last logit_count rows), gathered
  // in the logit layout, then the output projection over them.
  {
    const OpTimer timer(profile_, Op::Norm);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::int64_t n = a.logit_count[i], from = a.first_row[i] + a.row_count[i] - n;
      kernels::rmsnorm(&a.z[static_cast<std::size_t>(a.first_logit[i] * D)], &a.x[static_cast<std::size_t>(from * D)],
                       w_.final_norm.data(), n, D, c_.norm_eps);
    }
  }
  if (tape != nullptr) hand_over(a.x, &tape->x_final);
  if (steps.size() == 1 && steps[0].wanted == LogitsWanted::All) emit(trace, -1, "final_norm_out", a.z, R * D);
  project(a.logits.data(), a.z.data(), w_.output, a.first_logit, a.logit_count, a.logit_order, a.fused, Op::Logits);
  if (tape != nullptr) hand_over(a.z, &tape->z_final);
}

void Transformer::feature_maps(std::span<const SequenceStep> steps, Activations& a, std::int64_t R,
                               const LayerWeights& lw, LayerTape* tape) const {
  const std::int64_t H = c_.n_heads, Hkv = c_.n_kv_heads, dh = c_.head_dim, dqk = c_.qk_dim, dv = c_.v_dim;
  // The ReLU feature map over all heads and rows at once (§3.2).
  kernels::add_bias(a.q_feat.data(), lw.feat_q_bias.data(), R, H * dqk);
  kernels::relu(a.q_feat.data(), R * H * dqk);
  kernels::add_bias(a.k_feat_kv.data(), lw.feat_k_bias.data(), R, Hkv * dqk);
  kernels::relu(a.k_feat_kv.data(), R * Hkv * dqk);
  keep(on(tape, &LayerTape::qf), a.q_feat, R * H * dqk);
  // GQA repeat (§3.3), then qk-norm over all H·dqk features (§3.4), then rotary at each
  // sequence's own positions (§3.5).
  kernels::repeat_kv_heads(a.k_feat.data(), a.k_feat_kv.data(), R, Hkv, H, dqk);
  kernels::repeat_kv_heads(a.v_rep.data(), a.v.data(), R, Hkv, H, dv);
  hand_over(a.k_feat_kv, on(tape, &LayerTape::kf));
  keep(on(tape, &LayerTape::kr), a.k_feat, R * H * dqk);
  float* qf = a.q_feat.data();
  float* kf = a.k_feat.data();
  if (c_.qk_norm) {
    kernels::rmsnorm(qf, qf, lw.q_norm.data(), R, H * dqk, c_.norm_eps);
    kernels::rmsnorm(kf, kf, lw.k_norm.data(), R, H * dqk, c_.norm_eps);
  }
  if (c_.rotary) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const SequenceStep& s = steps[i];
      const std::int64_t row = a.first_row[i];
      kernels::rope(qf + row * H * dqk, tokens(s), H, dqk, dh, s.state->position, inv_freq_.data());
      kernels::rope(kf + row * H * dqk, tokens(s), H, dqk, dh, s.state->position, inv_freq_.data());
    }
  }
}

void Transformer::linear_attention(std::span<const SequenceStep> steps, Activations& a, std::int64_t R, int layer,
                                   const TraceFn& trace, LayerTape* tape) const {
  const LayerWeights& lw = w_.layers[layer];
  const std::int64_t H = c_.n_heads, dqk = c_.qk_dim, dv = c_.v_dim;
  // The feature maps (spec §3.2-3.5) of the projected q and k.
  project(a.q_feat.data(), a.q.data(), lw.feat_q, a, Op::FeatureMap);
  project(a.k_feat_kv.data(), a.k.data(), lw.feat_k, a, Op::FeatureMap);
  {
    const OpTimer timer(profile_, Op::FeatureMap);
    feature_maps(steps, a, R, lw, tape);
  }
  emit(trace, layer, "q_feat", a.q_feat, R * H * dqk);
  emit(trace, layer, "k_feat", a.k_feat, R * H * dqk);
  emit(trace, layer, "v", a.v_rep, R * H * dv);
  {
    const OpTimer timer(profile_, Op::AttentionCore);
    linear_attention_core(steps, a, layer);
  }
  emit(trace, layer, "attn_raw", a.o, R * H * dv);
  keep(on(tape, &LayerTape::o), a.o, R * H * dv);
  {
    const OpTimer timer(profile_, Op::GroupNorm);
    kernels::group_norm(a.o.data(), a.o.data(), R, H, dv, kGroupNormEps);
  }
  emit(trace, layer, "groupnorm_out", a.o, R * H * dv);
  project(a.attn.data(), a.o.data(), lw.wo, a, Op::OutProjection);
  // The features as the attention core read them (after qk-norm and rotary).
  hand_over(a.q_feat, on(tape, &LayerTape::qa));
  hand_over(a.k_feat, on(tape, &LayerTape::ka));
  hand_over(a.v_rep, on(tape, &LayerTape::va));
  hand_over(a.o, on(tape, &LayerTape::g));
}

void Transformer::linear_attention_core(std::span<const SequenceStep> steps, Activations& a, int layer) const {
  const std::int64_t H = c_.n_heads, dqk = c_.qk_dim, dv = c_.v_dim;
  // Decayed causal linear attention per sequence and head (§3.7 / §3.8), continuing each
  // sequence's layer state.
  const float scale = float(1.0 / std::sqrt(double(dqk)));
  const float* qf = a.q_feat.data();
  const float* kf = a.k_feat.data();
  const float* vr = a.v_rep.data();
  float* o = a.o.data();
  const auto head = [&](const SequenceStep& s, std::int64_t first_row, std::int64_t h) {
    float* S = &s.state->layers[static_cast<std::size_t>(layer)].matrix[static_cast<std::size_t>(h * dqk * dv)];
    const float slope = slopes_[static_cast<std::size_t>(h)];
    const std::int64_t base = first_row * H;
    if (s.path == AttentionPath::Step) {
      const float gamma = std::exp(-slope);  // the reference evaluates γ in the activation dtype
      kernels::linear_attention_step(o + (base + h) * dv, S, qf + (base + h) * dqk, kf + (base + h) * dqk,
                                     vr + (base + h) * dv, dqk, dv, gamma, scale);
    } else {
      kernels::linear_attention_block(o + (base + h) * dv, H * dv, S, qf + (base + h) * dqk, H * dqk,
                                      kf + (base + h) * dqk, H * dqk, vr + (base + h) * dv, H * dv, tokens(s), dqk,
                                      dv, -double(slope), scale);
    }
  };
  // Chunked blocks: threaded over heads (their GEMMs run on the head's thread), one sequence
  // after another, as a single sequence always was.
  std::int64_t step_work = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const SequenceStep& s = steps[i];
    if (s.path == AttentionPath::Step) step_work += tokens(s) * H * dqk * dv;
    if (s.path != AttentionPath::Block || s.ids.empty()) continue;
#pragma omp parallel for schedule(static) if (tokens(s) * dqk * dv >= kMinThreadedHeadWork)
    for (std::int64_t h = 0; h < H; ++h) head(s, a.first_row[i], h);
  }
  if (step_work == 0) return;
  // Recurrent steps: one task per sequence (its H heads), on the spinning pool.
  const auto sequence = [&](std::int64_t i) {
    const SequenceStep& s = steps[static_cast<std::size_t>(i)];
    if (s.path == AttentionPath::Step)
      for (std::int64_t h = 0; h < H; ++h) head(s, a.first_row[static_cast<std::size_t>(i)], h);
  };
  const std::int64_t n = static_cast<std::int64_t>(steps.size());
  if (step_work >= kMinThreadedStepWork) {
    kernels::parallel_for(n, sequence);
  } else {
    for (std::int64_t i = 0; i < n; ++i) sequence(i);
  }
}

void Transformer::softmax_attention(std::span<const SequenceStep> steps, Activations& a, std::int64_t R, int layer,
                                    const TraceFn& trace, LayerTape* tape) const {
  const LayerWeights& lw = w_.layers[layer];
  const std::int64_t H = c_.n_heads, d = c_.qk_dim, dv = c_.v_dim;
  {
    const OpTimer timer(profile_, Op::FeatureMap);
    rotate_and_cache(steps, a, layer);
  }
  emit(trace, layer, "q", a.q, R * H * d);
  {
    const OpTimer timer(profile_, Op::AttentionCore);
    softmax_attention_core(steps, a, layer);
  }
  emit(trace, layer, "attn_raw", a.o, R * H * dv);
  project(a.attn.data(), a.o.data(), lw.wo, a, Op::OutProjection);
  hand_over(a.o, on(tape, &LayerTape::g));  // what out_proj read: no GroupNorm in the teacher
}

void Transformer::rotate_and_cache(std::span<const SequenceStep> steps, Activations& a, int layer) const {
  const std::int64_t H = c_.n_heads, Hkv = c_.n_kv_heads, d = c_.qk_dim, dv = c_.v_dim;
  float* q = a.q.data();
  float* k = a.k.data();
  const float* v = a.v.data();
  // Rotary at each sequence's positions; the cache keeps post-rotary keys and values of the kv
  // heads (repetition is by indexing).
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const SequenceStep& s = steps[i];
    const std::int64_t T = tokens(s), pos = s.state->position, row = a.first_row[i];
    if (c_.rotary) {
      kernels::rope(q + row * H * d, T, H, d, d, pos, inv_freq_.data());
      kernels::rope(k + row * Hkv * d, T, Hkv, d, d, pos, inv_freq_.data());
    }
    LayerState& ls = s.state->layers[static_cast<std::size_t>(layer)];
    ls.keys.insert(ls.keys.end(), k + row * Hkv * d, k + (row + T) * Hkv * d);
    ls.values.insert(ls.values.end(), v + row * Hkv * dv, v + (row + T) * Hkv * dv);
  }
}

void Transformer::softmax_attention_core(std::span<const SequenceStep> steps, Activations& a, int layer) const {
  const std::int64_t H = c_.n_heads, Hkv = c_.n_kv_heads, d = c_.qk_dim, dv = c_.v_dim, r = H / Hkv;
  const float scale = float(1.0 / std::sqrt(double(d)));
  const float* q = a.q.data();
  float* o = a.o.data();
  std::int64_t work = 0, scratch = 0;
  for (const SequenceStep& s : steps) {
    const std::int64_t T = tokens(s), pos = s.state->position;
    work += T * (pos + T) * d * r;
    scratch = std::max(scratch, kernels::softmax_attention_scratch(T, pos, r, d, dv));
  }
  // Each thread's scratch, sized here by the calling thread for every thread the loop may use
  // (threaded or not): twice what this step needs when it must grow, so a cache growing by a
  // token per step reallocates it O(log n) times.
  const bool threaded = work >= kMinThreadedSoftmaxWork;
  const std::size_t slices = static_cast<std::size_t>(omp_get_max_threads());
  if (a.attention_scratch.size() < slices * static_cast<std::size_t>(scratch))
    a.attention_scratch.assign(2 * slices * static_cast<std::size_t>(scratch), 0.0f);
  const std::int64_t stride = static_cast<std::int64_t>(a.attention_scratch.size() / slices);
  // One task per (sequence, kv group): a group's r query heads share one read of its cached
  // keys and values (which already hold this step's tokens).
  const std::int64_t groups = static_cast<std::int64_t>(steps.size()) * Hkv;
#pragma omp parallel for schedule(static) if (threaded)
  for (std::int64_t task = 0; task < groups; ++task) {
    const SequenceStep& s = steps[static_cast<std::size_t>(task / Hkv)];
    const std::int64_t g = task % Hkv, first = a.first_row[static_cast<std::size_t>(task / Hkv)];
    const std::int64_t T = tokens(s), pos = s.state->position;
    if (T == 0) continue;
    const LayerState& ls = s.state->layers[static_cast<std::size_t>(layer)];
    kernels::softmax_attention(o + first * H * dv + g * r * dv, H * dv, q + first * H * d + g * r * d, H * d, r,
                               &ls.keys[g * d], Hkv * d, &ls.values[g * dv], Hkv * dv, T, pos, d, dv, scale,
                               a.attention_scratch.data() + omp_get_thread_num() * stride);
  }
}

void Transformer::feed_forward(Activations& a, std::int64_t R, const LayerWeights& lw, LayerTape* tape) const {
  const std::int64_t D = c_.dim, F = c_.ffn_dim;
  {
    const OpTimer timer(profile_, Op::Norm);
    kernels::rmsnorm(a.z.data(), a.x.data(), lw.ffn_norm.data(), R, D, c_.norm_eps);
  }
  project(a.gate.data(), a.z.data(), lw.w_gate, a, Op::FfnProjection);
  project(a.up.data(), a.z.data(), lw.w_up, a, Op::FfnProjection);
  hand_over(a.z, on(tape, &LayerTape::z2));
  // silu(gate) ⊙ up in place, or onto the tape when it keeps gate and up as well.
  float* act = a.gate.data();
  if (tape != nullptr) {
    if (tape->act.size() < static_cast<std::size_t>(R * F)) tape->act.resize(static_cast<std::size_t>(R * F));
    act = tape->act.data();
  }
  {
    const OpTimer timer(profile_, Op::FfnActivation);
    kernels::silu_mul(act, a.gate.data(), a.up.data(), R * F);
  }
  project(a.down.data(), act, lw.w_down, a, Op::FfnProjection);
  hand_over(a.gate, on(tape, &LayerTape::gate));
  hand_over(a.up, on(tape, &LayerTape::up));
  const OpTimer timer(profile_, Op::FfnActivation);
  kernels::add(a.x.data(), a.down.data(), R * D);
}

}  // namespace supra
