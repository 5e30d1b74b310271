// Float32 products of training (forward and both gradients of nn.Linear), bias and
// embedding gradients, and bf16 rounding. Loops are ordered so the innermost one runs over
// contiguous memory (the compiler vectorizes it); threads split rows of the output.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/backward.h"
#include "supra/tensor.h"

namespace supra::kernels {
namespace {

// Below this many multiply-adds a thread team costs more than it saves.
constexpr std::int64_t kMinParallelWork = std::int64_t{1} << 18;

// Rows of the left operand handled together, so that each row of the right one loaded from
// memory is used several times.
constexpr std::int64_t kRowBlock = 4;

// y[M, K] (+)= a[M, L] · b[K, L]ᵀ: every output is a dot product of two contiguous rows. Four
// rows of `a` share each row of `b` loaded. All three products of training take this form
// (the gradients after transposing their operands), so one loop nest serves them.
void dot_rows(float* y, const float* a, const float* b, std::int64_t M, std::int64_t K, std::int64_t L,
              bool accumulate) {
  const std::int64_t blocks = (M + kRowBlock - 1) / kRowBlock;
#pragma omp parallel for schedule(static) if (M * K * L >= kMinParallelWork)
  for (std::int64_t blk = 0; blk < blocks; ++blk) {
    const std::int64_t m0 = blk * kRowBlock;
    if (m0 + kRowBlock <= M) {
      const float* a0 = a + m0 * L;
      const float* a1 = a0 + L;
      const float* a2 = a1 + L;
      const float* a3 = a2 + L;
      float* y0 = y + m0 * K;
      for (std::int64_t k = 0; k < K; ++k) {
        const float* bk = b + k * L;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
        for (std::int64_t i = 0; i < L; ++i) {
          s0 += a0[i] * bk[i];
          s1 += a1[i] * bk[i];
          s2 += a2[i] * bk[i];
          s3 += a3[i] * bk[i];
        }
        if (accumulate) {
          y0[k] += s0, y0[K + k] += s1, y0[2 * K + k] += s2, y0[3 * K + k] += s3;
        } else {
          y0[k] = s0, y0[K + k] = s1, y0[2 * K + k] = s2, y0[3 * K + k] = s3;
        }
      }
    } else {
      for (std::int64_t m = m0; m < M; ++m) {
        const float* am = a + m * L;
        for (std::int64_t k = 0; k < K; ++k) {
          const float* bk = b + k * L;
          float s = 0;
#pragma omp simd reduction(+ : s)
          for (std::int64_t i = 0; i < L; ++i) s += am[i] * bk[i];
          y[m * K + k] = accumulate ? y[m * K + k] + s : s;
        }
      }
    }
  }
}

// dst[cols, rows] = srcᵀ for src[rows, cols]. Sixteen source rows at a time: the reads are
// sixteen sequential streams and each write fills one 64-byte line of the destination.
std::vector<float> transpose(const float* src, std::int64_t rows, std::int64_t cols) {
  std::vector<float> dst(static_cast<std::size_t>(rows * cols));
  constexpr std::int64_t kBlock = 16;
  for (std::int64_t r0 = 0; r0 < rows; r0 += kBlock) {
    const std::int64_t nr = std::min(kBlock, rows - r0);
    for (std::int64_t c = 0; c < cols; ++c) {
      float* d = &dst[static_cast<std::size_t>(c * rows + r0)];
      for (std::int64_t r = 0; r < nr; ++r) d[r] = src[(r0 + r) * cols + c];
    }
  }
  return dst;
}

}  // namespace

void linear_forward(float* y, const float* x, const float* w, std::int64_t N, std::int64_t out, std::int64_t in) {
  dot_rows(y, x, w, N, out, in, false);
}

void linear_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, std::int64_t N,
                     std::int64_t out, std::int64_t in) {
  if (dx != nullptr) {
    const std::vector<float> wt = transpose(w, out, in);  // [in, out]
    dot_rows(dx, dy, wt.data(), N, in, out, true);
  }
  if (dw != nullptr) {
    const std::vector<float> dyt = transpose(dy, N, out), xt = transpose(x, N, in);  // [out, N], [in, N]
    dot_rows(dw, dyt.data(), xt.data(), out, in, N, true);
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
