// The float32 gradients of nn.Linear (the forward is inference's matmul) on the GEMM that
// inference's prefill uses (oneDNN's sgemm, gemm.h), bias and embedding gradients, and bf16
// rounding.
#include "kernels/backward.h"

#include <bit>
#include <cstdint>

#include "kernels/gemm.h"
#include "supra/tensor.h"

namespace supra::kernels {

void linear_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, std::int64_t N,
                     std::int64_t out, std::int64_t in) {
  if (dx != nullptr) sgemm('N', 'N', N, in, out, 1.0f, dy, out, w, in, 1.0f, dx, in);   // dx += dy · w
  if (dw != nullptr) sgemm('T', 'N', out, in, N, 1.0f, dy, out, x, in, 1.0f, dw, in);   // dw += dyᵀ · x
}

void bias_backward(float* dbias, const float* dy, std::int64_t N, std::int64_t n) {
  for (std::int64_t t = 0; t < N; ++t)
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) dbias[i] += dy[t * n + i];
}

void embedding_backward(float* dtable, const float* dx, const std::int32_t* ids, std::int64_t N, std::int64_t D) {
  for (std::int64_t t = 0; t < N; ++t) {
    float* row = dtable + std::int64_t{ids[t]} * D;
    const float* g = dx + t * D;
    for (std::int64_t i = 0; i < D; ++i) row[i] += g[i];
  }
}

void round_to_bf16(float* x, std::int64_t n) {
  // f32_to_bf16 then back, on the bits and without a branch, so that it vectorizes.
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(x[i]);
    const std::uint32_t nearest_even = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
    const std::uint32_t quiet_nan = (bits & 0xFFFF0000u) | 0x00400000u;
    x[i] = std::bit_cast<float>((bits & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : nearest_even);
  }
}

}  // namespace supra::kernels
