// The dispatched SIMD kernels behind matmul (Highway, one compiled copy per x86 target, the
// best one the CPU supports chosen at run time). Internal to supra_kernels; matmul() picks
// between these, the oneDNN GEMM for long prefills, and nothing else.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/matrix.h"

namespace supra::kernels::simd {

// One block of activations quantized like a Q8_0 weight block (a float scale, for accuracy):
// x_i ≈ d · q_i. Q8_0/Q4_0 matmuls multiply these against the weight blocks in integers.
struct QBlock {
  float d;
  std::int8_t q[kQuantBlock];
  std::int32_t sum;  // Σ q: what unsigned Q4_0 codes over-count, 8·sum, is taken off once
};

// Quantizes each of the T rows of x[T, cols] (cols a multiple of 32) into cols/32 blocks
// (ggml's quantize_row_q8_0 rule: d = max|x| / 127, q = round(x / d)).
void quantize_activations(QBlock* out, const float* x, std::int64_t T, std::int64_t cols);

// The activations of one matmul call in the layout the current target's kernels read (AVX-512:
// plain Q8_0/Q4_0 int8 blocks in pair order with their offsets and scales, BF16 rows rounded to
// bf16), prepared once by the calling thread for every thread's dot_rows: bytes per activation
// row (0 where the kernels read x or xq as they are), and the preparation. The buffer grows to
// the largest call and is kept (64-byte aligned lines).
struct PreparedRows {
  struct alignas(64) Line {
    std::byte bytes[64];
  };
  std::vector<Line> lines;
  std::byte* data() { return lines.empty() ? nullptr : lines.front().bytes; }
};
std::size_t prepared_row_bytes(const Matrix& w);
void prepare_rows(PreparedRows& out, const Matrix& w, const float* x, const QBlock* xq, std::int64_t T);

// y[t, r] = Σ_c x[t, c] · w[r, c] for rows r in [r0, r1) and every t < T (y row stride w.rows).
// Each weight row is read once from memory and used for all T activation rows. `x` is used for
// F32/BF16/F16 weights, `xq` (T rows of cols/32 blocks) for Q8_0/Q4_0, `prepared` for what
// prepare_rows made of them (at the first of the T rows: row t0 of a call is
// prepared.data() + t0 · prepared_row_bytes(w)).
void dot_rows(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const float* x, const QBlock* xq,
              std::int64_t T, const std::byte* prepared);

// Whether dot_rows on the current target multiplies weights of this type in bf16: the float
// activations rounded to bf16 (nearest even), products summed in float32. BF16 weights on CPUs
// with AVX512_BF16 (vdpbf16ps, the AVX3_DL target), as gemm() does from kGemmMinTokens on.
bool dot_rows_in_bf16(DType weights);

// Whether the current target's kernels read Q8_0/Q4_0 weights in the Lanes16 layout
// (interleave.h): AVX-512 VNNI CPUs. Other targets take Lanes16 matrices too, through plain
// copies of their rows (slow: for tests that force a target on such a CPU).
bool lanes16_kernels();

// Decodes rows [r0, r1) of w into out[(r1 - r0), w.cols] as float32 (any weight dtype).
void decode_rows(float* out, const Matrix& w, std::int64_t r0, std::int64_t r1);
// The same rows rounded to bf16 (nearest even): the panels of gemm()'s bf16 matmul, made in one
// pass instead of a float32 panel and a rounding pass over it.
void decode_rows_bf16(std::uint16_t* out, const Matrix& w, std::int64_t r0, std::int64_t r1);

// out[i] = silu(gate[i]) · up[i] (see kernels::silu_mul), vectorized with Highway's Exp (1 ULP).
void silu_mul(float* out, const float* gate, const float* up, std::int64_t n);

// Σ x[i]² accumulated in double, in vector lanes: RMSNorm's statistic (the reference reduces in
// float32; double stays within its rounding whatever the order of the sum).
double sum_squares(const float* x, std::int64_t n);

// y[i] = x[i] · scale · w[i]: RMSNorm's scaling, vectorized.
void scale_mul(float* y, const float* x, float scale, const float* w, std::int64_t n);

// One recurrent linear-attention step (see kernels::linear_attention_step), vectorized.
void linear_attention_step(float* o, float* S, const float* q, const float* k, const float* v, std::int64_t dqk,
                           std::int64_t dv, float gamma, float scale);

// Σ p[i] with the widest loads and four independent sums: a read that only memory limits
// (the bandwidth probe of `supra bench`).
std::uint64_t sum_words(const std::uint64_t* p, std::size_t n);

// The Highway targets compiled in and supported by this CPU (bit values of HWY_*), best last,
// the name of one, and forcing one for tests (0 restores the CPU's own choice).
std::vector<std::int64_t> available_targets();
std::string target_name(std::int64_t target);
void force_target(std::int64_t target);
// The target the dispatched kernels run on now.
std::string current_target();

// Whether the AVX-512 kernels may hand Lanes16 groups to AMX-INT8 tiles where the CPU has them
// (default true; tests switch it off to compare with the VNNI kernels).
void allow_amx(bool allowed);
bool amx_allowed();
// Whether they do on this CPU: allowed, and AMX-INT8 present and granted by the OS.
bool amx_int8_active();

}  // namespace supra::kernels::simd
