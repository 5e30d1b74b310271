// Training kernels: float32 matrix products over plain arrays and the backward pass of every
// forward kernel (llm.c order: outputs first). Gradient outputs ACCUMULATE (+=) unless a
// comment says otherwise, so that a tensor used twice (a residual, shared weights, GQA heads)
// sums its contributions; callers zero them first.
#pragma once
#include <cstdint>

namespace supra::kernels {

// Backward of y[N, out] = x[N, in] · w[out, in]ᵀ (the forward is inference's matmul over
// float32 master copies): dx[N, in] += dy[N, out] · w  (skipped when dx is null) and
// dw[out, in] += dyᵀ · x (skipped when dw is null).
void linear_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, std::int64_t N,
                     std::int64_t out, std::int64_t in);

// dbias[n] += Σ_t dy[t, n] over the N rows.
void bias_backward(float* dbias, const float* dy, std::int64_t N, std::int64_t n);

// Embedding scatter-add: dtable[ids[t], :] += dx[t, :] for t < N (rows of width D).
void embedding_backward(float* dtable, const float* dx, const std::int32_t* ids, std::int64_t N, std::int64_t D);

// RMSNorm backward (spec §2.2), y = x · r · w with r = rsqrt(mean(x²) + eps) per row:
//   dx += r · (dy⊙w) − x · r³/n · Σ(dy⊙w⊙x),   dw += Σ_rows dy ⊙ x · r.
void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, std::int64_t N,
                      std::int64_t n, float eps);

// Per-head GroupNorm backward (spec §3.9, no affine, biased variance), groups of d channels:
//   ŷ = (x − μ) r,  dx += r · (dy − mean(dy) − ŷ · mean(dy ⊙ ŷ)).
void group_norm_backward(float* dx, const float* dy, const float* x, std::int64_t N, std::int64_t H, std::int64_t d,
                         float eps);

// SwiGLU backward (spec §2.4), out = silu(g) · u: dgate, dup are overwritten (may not alias).
void silu_mul_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                       std::int64_t n);

// ReLU backward in place: dy[i] = 0 where the forward output y[i] is not positive.
void relu_backward(float* dy, const float* y, std::int64_t n);

// Backward of `rope` (half-split, spec §3.5) in place on dx[T, heads, head_dim]: the inverse
// rotation by the same angles (float32 products pos · inv_freq).
void rope_backward(float* dx, std::int64_t T, std::int64_t heads, std::int64_t head_dim, std::int64_t rot_dim,
                   std::int64_t first_pos, const float* inv_freq);

// Backward of linear_attention_block for one head starting from a zero state (parallel mode,
// spec §3.7): o_t = Σ_{j≤t} γ^{t−j} c ⟨q_t, k_j⟩ v_j. Given do, accumulates
//   dq_t += Σ_{j≤t} γ^{t−j} c ⟨do_t, v_j⟩ k_j,  dk_j += Σ_{t≥j} γ^{t−j} c ⟨do_t, v_j⟩ q_t,
//   dv_j += Σ_{t≥j} γ^{t−j} c ⟨q_t, k_j⟩ do_t,
// chunked in blocks of 64 with a carried state in each direction (O(T), like the forward).
// Each array is [T, its stride] at this head's slice; dq/dk/dv share the strides of q/k/v.
void linear_attention_backward(float* dq, float* dk, float* dv, const float* d_o, std::int64_t o_stride,
                               const float* q, std::int64_t q_stride, const float* k, std::int64_t k_stride,
                               const float* v, std::int64_t v_stride, std::int64_t T, std::int64_t dqk,
                               std::int64_t dvw, double log_gamma, float scale);

// Backward of causal softmax attention of one query head from an empty cache (spec §4):
// P = softmax(c q kᵀ + causal mask), o = P v. Recomputes P; accumulates into dq, dk, dv
// (dk/dv are the kv head's slice, so heads sharing it must run one after another).
void softmax_attention_backward(float* dq, float* dk, float* dv, const float* d_o, std::int64_t o_stride,
                                const float* q, std::int64_t q_stride, const float* k, std::int64_t k_stride,
                                const float* v, std::int64_t v_stride, std::int64_t T, std::int64_t d,
                                std::int64_t dvw, float scale);

// Cross-entropy with z-loss over N rows of float32 logits[N, V] (spec §8.2):
//   L = (1/N) Σ_t (lse_t − logits[t, target_t]) + z_coef · (1/N) Σ_t lse_t²,
// log-softmax computed stably (max subtracted, sums in double). Writes dL/dlogits into dlogits
// (may alias logits) when it is not null, and returns Σ ce and Σ lse² (not yet divided by N).
struct CrossEntropySums {
  double ce = 0;
  double lse_sq = 0;
};
CrossEntropySums cross_entropy_zloss(float* dlogits, const float* logits, const std::int32_t* targets,
                                     std::int64_t N, std::int64_t V, double z_coef);

// Rounds every value to the nearest bfloat16 (ties to even), in place: the inputs of BF16
// matrix products.
void round_to_bf16(float* x, std::int64_t n);

}  // namespace supra::kernels
