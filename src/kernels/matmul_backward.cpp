// Float32 products of training (forward and both gradients of nn.Linear), bias and
// embedding gradients, and bf16 rounding. Loops are ordered so the innermost one runs over
// contiguous memory (the compiler vectorizes it); threads split rows of the output.
#include <cstring>

#include "kernels/backward.h"
#include "supra/tensor.h"

namespace supra::kernels {
namespace {

// Below this many multiply-adds a thread team costs more than it saves.
constexpr std::int64_t kMinParallelWork = std::int64_t{1} << 18;

// Rows of x (forward) or of dw (weight gradient) handled together, so that each weight or
// activation row loaded from memory is used several times.
constexpr std::int64_t kRowBlock = 4;

}  // namespace

void linear_forward(float* y, const float* x, const float* w, std::int64_t N, std::int64_t out, std::int64_t in) {
  const std::int64_t blocks = (N + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static) if (N * out * in >= kMinParallelWork)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t t0 = blk * kRowBlock;
    if (t0 + kRowBlock <= N) {
      const float* x0 = x + t0 * in;
      const float* x1 = x0 + in;
      const float* x2 = x1 + in;
      const float* x3 = x2 + in;
      for (std::int64_t o = 0; o < out; ++o) {
        const float* wo = w + o * in;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
        for (std::int64_t i = 0; i < in; ++i) {
          s0 += x0[i] * wo[i];
          s1 += x1[i] * wo[i];
          s2 += x2[i] * wo[i];
          s3 += x3[i] * wo[i];
        }
        y[t0 * out + o] = s0;
        y[(t0 + 1) * out + o] = s1;
        y[(t0 + 2) * out + o] = s2;
        y[(t0 + 3) * out + o] = s3;
      }
    } else {
      for (std::int64_t t = t0; t < N; ++t) {
        const float* xt = x + t * in;
        for (std::int64_t o = 0; o < out; ++o) {
          const float* wo = w + o * in;
          float s = 0;
#pragma omp simd reduction(+ : s)
          for (std::int64_t i = 0; i < in; ++i) s += xt[i] * wo[i];
          y[t * out + o] = s;
        }
      }
    }
  }
}

void linear_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, std::int64_t N,
                     std::int64_t out, std::int64_t in) {
  const bool threaded = N * out * in >= kMinParallelWork;
  if (dx != nullptr) {
#pragma omp parallel for schedule(static) if (threaded)
    for (std::int64_t t = 0; t < N; ++t) {
      float* dxt = dx + t * in;
      const float* dyt = dy + t * out;
      for (std::int64_t o = 0; o < out; ++o) {
        const float a = dyt[o];
        const float* wo = w + o * in;
#pragma omp simd
        for (std::int64_t i = 0; i < in; ++i) dxt[i] += a * wo[i];
      }
    }
  }
  if (dw != nullptr) {
    const std::int64_t blocks = (out + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static) if (threaded)
    for (std::int64_t blk = 0; blk < blocks; ++blk) {
      const std::int64_t o0 = blk * kRowBlock;
      const std::int64_t o1 = o0 + kRowBlock < out ? o0 + kRowBlock : out;
      for (std::int64_t t = 0; t < N; ++t) {
        const float* xt = x + t * in;
        const float* dyt = dy + t * out;
        for (std::int64_t o = o0; o < o1; ++o) {
          const float a = dyt[o];
          float* dwo = dw + o * in;
#pragma omp simd
          for (std::int64_t i = 0; i < in; ++i) dwo[i] += a * xt[i];
        }
      }
    }
  }
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
  for (std::int64_t i = 0; i < n; ++i) x[i] = bf16_to_f32(f32_to_bf16(x[i]));
}

}  // namespace supra::kernels
