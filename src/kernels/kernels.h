// The kernel interface: free functions over plain arrays, outputs first, then inputs, then
// sizes (llm.c order). Shapes are given in spec notation. Kernels know nothing about layers
// or configs; the model composes them. Behind each signature the fastest path the CPU and the
// shapes allow is chosen at run time: matmul() takes the oneDNN GEMM for many rows (gemm.h) and
// the dispatched SIMD decode kernels for few (simd.h: Highway per x86 target, AVX-512 VNNI/BF16
// intrinsics); the chunked attention blocks run on oneDNN tiles, the recurrent step on the
// dispatched SIMD kernels. The tests check every path against a naive twin.
#pragma once
#include <cstdint>
#include <span>

#include "kernels/matrix.h"

namespace supra::kernels {

// y[T, w.rows] = x[T, w.cols] · wᵀ   (nn.Linear without bias). F32, BF16 and F16 weights;
// activations and accumulation are float32.
void matmul(float* y, const float* x, const Matrix& w, std::int64_t T);

// The same product on the dot-product kernels whatever T (matmul() takes the GEMM from
// gemm_min_tokens rows): each output row depends only on its own activation row, bit for bit,
// not on T nor on the other rows. A batch puts its decode rows through this, so that a sequence
// computes the same alone or batched.
void matmul_rowwise(float* y, const float* x, const Matrix& w, std::int64_t T);

// Adds bias[n] to each of the T rows of y[T, n].
void add_bias(float* y, const float* bias, std::int64_t T, std::int64_t n);

// Copies row `row` of w into out[w.cols] as float32 (embedding lookup).
void copy_row(float* out, const Matrix& w, std::int64_t row);

// RMSNorm over each of the T rows of x[T, n] (spec §2.2): y = x · rsqrt(mean(x²) + eps) · w.
// y may alias x.
void rmsnorm(float* y, const float* x, const float* w, std::int64_t T, std::int64_t n, float eps);

// Per-head LayerNorm with no affine (GroupNorm with H groups, spec §3.9) over each row of
// x[T, H·d]: biased variance, eps 1e-5. y may alias x.
void group_norm(float* y, const float* x, std::int64_t T, std::int64_t H, std::int64_t d, float eps);

// out[n] = silu(gate[n]) · up[n]   (SwiGLU, spec §2.4). out may alias gate or up.
void silu_mul(float* out, const float* gate, const float* up, std::int64_t n);

// y[n] += x[n] (the residual adds).
void add(float* y, const float* x, std::int64_t n);

// GQA head mapping (spec §3.3): dst[T, H, d] from src[T, Hkv, d], query head h reads kv head
// ⌊h / (H / Hkv)⌋.
void repeat_kv_heads(float* dst, const float* src, std::int64_t T, std::int64_t Hkv, std::int64_t H, std::int64_t d);

// x = max(x, 0)
void relu(float* x, std::int64_t n);

// Half-split rotary (spec §3.5) in place on x[T, heads, head_dim] at positions
// first_pos + t, rotating the first `rot_dim` channels of each head (rot_dim ≤ head_dim,
// even). inv_freq has rot_dim/2 entries. Angles are float32 products pos · inv_freq, as in
// the reference.
void rope(float* x, std::int64_t T, std::int64_t heads, std::int64_t head_dim, std::int64_t rot_dim,
          std::int64_t first_pos, const float* inv_freq);

// Decayed causal linear attention of one head over a block of T tokens, continuing from
// state S[dqk, dv] (spec §3.7-3.8). S holds Σ_{j<start} γ^{start-j} c k_jᵀ v_j ("already
// decayed", as the reference stores it) and is advanced to the end of the block:
//   o_t = Σ_{j≤t} γ^{t-j} c ⟨q_t, k_j⟩ v_j + γ^t q_t S,    S ← γ^T S + Σ_j γ^{T-j} c k_jᵀ v_j
// q[T, q_stride], k[T, k_stride], v[T, v_stride] point at this head's slice of each row;
// o[T, o_stride] likewise. `log_gamma` = -λ (0 for no decay).
void linear_attention_block(float* o, std::int64_t o_stride, float* S, const float* q, std::int64_t q_stride,
                            const float* k, std::int64_t k_stride, const float* v, std::int64_t v_stride,
                            std::int64_t T, std::int64_t dqk, std::int64_t dv, double log_gamma, float scale);

// One recurrent step of the same head (spec §3.8): U = S + c kᵀv; o = q U; S ← γ U.
void linear_attention_step(float* o, float* S, const float* q, const float* k, const float* v,
                           std::int64_t dqk, std::int64_t dv, float gamma, float scale);

// Causal softmax attention of the `heads` query heads of one kv group over a cache (spec §4),
// bottom-right aligned: query t (absolute position first_pos + t) attends keys 0 .. first_pos + t.
// q[T, q_stride]: row t holds the group's heads side by side (head h at q + t·q_stride + h·d);
// keys[first_pos + T, k_stride], values[first_pos + T, v_stride]: this kv head's slice of each
// cached row; o[T, o_stride] with head h at o + t·o_stride + h·dv. `scratch` holds
// softmax_attention_scratch(T, first_pos, heads, d, dv) floats (the scores over every key).
void softmax_attention(float* o, std::int64_t o_stride, const float* q, std::int64_t q_stride, std::int64_t heads,
                       const float* keys, std::int64_t k_stride, const float* values, std::int64_t v_stride,
                       std::int64_t T, std::int64_t first_pos, std::int64_t d, std::int64_t dv, float scale,
                       float* scratch);
std::int64_t softmax_attention_scratch(std::int64_t T, std::int64_t first_pos, std::int64_t heads, std::int64_t d,
                                       std::int64_t dv);

}  // namespace supra::kernels
