// Highway kernels for matmul and the recurrent step, compiled once per x86 target (this file
// re-includes itself through foreach_target.h) and dispatched at run time.
//
// Float weights (F32/BF16/F16) are widened to f32 in registers and FMA'd with the f32
// activations. Q8_0/Q4_0 weights are multiplied in integers against activations quantized to
// int8 blocks (AVX2: pmaddubsw on 32 int8 pairs; elsewhere int8 widened to int16 and pmaddwd),
// one float multiply-add per 32-element block with the product of the two scales. Up to 4 activation rows share each
// weight load, so a weight byte is read from memory once per call whatever T is.
// On AVX3_DL (AVX-512 VNNI) the kernels of decode_avx512-inl.h take Q8_0, Q4_0 (in the Lanes16
// layout a loaded model has there) and, with AVX512_BF16, BF16 weights: vpdpbusd / vdpbf16ps,
// all T rows against each weight block. Other targets read Lanes16 matrices through plain
// copies of their rows (only tests that force a target meet them).
//
// Highway 1.0.3 compiles AVX3_DL only when asked: it is what AVX-512 VNNI/BF16 CPUs dispatch to.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/interleave.h"
#include "kernels/simd.h"
#include "supra/error.h"

// The x86 intrinsic kernels below serve AVX2 and the AVX-512 targets alike: AVX3 (AVX-512
// without VNNI) runs them as they are, AVX3_DL for the weight types decode_avx512-inl.h leaves.
// (Expanded per pass of this file: HWY_TARGET is the target being compiled.)
#ifndef SUPRA_AVX2_KERNELS
#define SUPRA_AVX2_KERNELS (HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL)
#endif
// The AVX-512 VNNI/BF16 kernels of decode_avx512-inl.h, in the AVX3_DL pass. GCC only: they add
// avx512vnni/avx512bf16 to the target's flags with HWY_PUSH_ATTRIBUTES, which clang (the fuzz
// builds) does not apply to function templates; there the AVX2-style kernels serve AVX3_DL.
#ifndef SUPRA_AVX512_DOT_KERNELS
#if defined(__clang__)
#define SUPRA_COMPILER_CLANG 1
#else
#define SUPRA_COMPILER_CLANG 0
#endif
#define SUPRA_AVX512_DOT_KERNELS (HWY_TARGET == HWY_AVX3_DL && !SUPRA_COMPILER_CLANG)
#endif

HWY_BEFORE_NAMESPACE();
namespace supra::kernels::simd {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Up to this many activation rows are dotted with one weight row per pass (registers: two
// accumulators per row plus the weights fit the 16 vector registers of AVX2).
constexpr int kRowsPerPass = 4;

float scalar_f32(float v) { return v; }
float scalar_f32(hwy::bfloat16_t v) {
  std::uint16_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bf16_to_f32(bits);
}
float scalar_f32(hwy::float16_t v) {
  std::uint16_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return f16_to_f32(bits);
}

template <class DF, class Elem>
HWY_INLINE hn::Vec<DF> load_f32(DF df, const Elem* p) {
  if constexpr (std::is_same_v<Elem, float>) {
    return hn::LoadU(df, p);
  } else {
    const hn::Rebind<Elem, DF> dn;
    return hn::PromoteTo(df, hn::LoadU(dn, p));
  }
}

// sums[t] = ⟨w, x_t⟩ for NT activation rows x_t = x + t·ldx.
template <int NT, class Elem>
HWY_INLINE void float_row(const Elem* w, std::int64_t cols, const float* x, std::int64_t ldx, float* sums) {
  const hn::ScalableTag<float> df;
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(df));
  hn::Vec<decltype(df)> acc0[NT], acc1[NT];
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = hn::Zero(df);
  std::int64_t c = 0;
  for (; c + 2 * N <= cols; c += 2 * N) {
    __builtin_prefetch(w + c + 1024 / sizeof(Elem));  // ahead of the hardware prefetcher, row ends included
    const auto w0 = load_f32(df, w + c), w1 = load_f32(df, w + c + N);
    for (int t = 0; t < NT; ++t) {
      acc0[t] = hn::MulAdd(w0, hn::LoadU(df, x + t * ldx + c), acc0[t]);
      acc1[t] = hn::MulAdd(w1, hn::LoadU(df, x + t * ldx + c + N), acc1[t]);
    }
  }
  for (; c + N <= cols; c += N) {
    const auto w0 = load_f32(df, w + c);
    for (int t = 0; t < NT; ++t) acc0[t] = hn::MulAdd(w0, hn::LoadU(df, x + t * ldx + c), acc0[t]);
  }
  for (int t = 0; t < NT; ++t) sums[t] = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[t], acc1[t])));
  for (; c < cols; ++c) {
    const float wc = scalar_f32(w[c]);
    for (int t = 0; t < NT; ++t) sums[t] += wc * x[t * ldx + c];
  }
}

// The f16 scale of a block through the target's conversion (F16C on AVX2): the scalar
// library conversion, called once per block and row, dominated quantized decode.
HWY_INLINE float block_scale(const std::byte* block) {
  const hn::CappedTag<float, 1> d1;
  const hn::Rebind<hwy::float16_t, decltype(d1)> dh;
  return hn::GetLane(hn::PromoteTo(d1, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(block))));
}

// Integer dot products of one weight row of Q8_0 (kQ4 false) or Q4_0 blocks with NT rows of
// quantized activations (x_t = xq + t·nblocks).
template <int NT, bool kQ4>
HWY_INLINE void quant_row(BlockRow row, std::int64_t nblocks, const QBlock* xq, float* sums) {
  // At most 16 int16 lanes: a Q4_0 block holds 16 bytes of nibbles.
  const hn::CappedTag<std::int16_t, 16> d16;
  const hn::Rebind<std::int8_t, decltype(d16)> d8;
  const hn::Rebind<std::uint8_t, decltype(d16)> du8;
  const hn::RebindToUnsigned<decltype(d16)> du16;
  const hn::Repartition<std::int32_t, decltype(d16)> d32;
  const hn::Repartition<float, decltype(d32)> df;
  const std::int64_t n16 = static_cast<std::int64_t>(hn::Lanes(d16));
  hn::Vec<decltype(df)> acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = hn::Zero(df);
  for (std::int64_t b = 0; b < nblocks; ++b) {
    const std::byte* codes = row.codes + static_cast<std::size_t>(b) * row.stride;
    const float dw = block_scale(row.scales + static_cast<std::size_t>(b) * row.stride);
    hn::Vec<decltype(d32)> s0[NT], s1[NT];
    for (int t = 0; t < NT; ++t) s0[t] = s1[t] = hn::Zero(d32);
    if constexpr (kQ4) {
      const auto* nibbles = reinterpret_cast<const std::uint8_t*>(codes);
      for (std::int64_t j = 0; j < kQuantBlock / 2; j += n16) {
        const auto raw = hn::PromoteTo(du16, hn::LoadU(du8, nibbles + j));
        const auto eight = hn::Set(d16, 8);
        const auto lo = hn::Sub(hn::BitCast(d16, hn::And(raw, hn::Set(du16, 15))), eight);
        const auto hi = hn::Sub(hn::BitCast(d16, hn::ShiftRight<4>(raw)), eight);
        for (int t = 0; t < NT; ++t) {
          const std::int8_t* xb = xq[t * nblocks + b].q;
          s0[t] = hn::ReorderWidenMulAccumulate(d32, lo, hn::PromoteTo(d16, hn::LoadU(d8, xb + j)), s0[t], s1[t]);
          s0[t] = hn::ReorderWidenMulAccumulate(d32, hi, hn::PromoteTo(d16, hn::LoadU(d8, xb + 16 + j)), s0[t],
                                                s1[t]);
        }
      }
    } else {
      const auto* q = reinterpret_cast<const std::int8_t*>(codes);
      for (std::int64_t j = 0; j < kQuantBlock; j += n16) {
        const auto wv = hn::PromoteTo(d16, hn::LoadU(d8, q + j));
        for (int t = 0; t < NT; ++t) {
          const std::int8_t* xb = xq[t * nblocks + b].q;
          s0[t] = hn::ReorderWidenMulAccumulate(d32, wv, hn::PromoteTo(d16, hn::LoadU(d8, xb + j)), s0[t], s1[t]);
        }
      }
    }
    for (int t = 0; t < NT; ++t) {
      const auto isum = hn::RearrangeToOddPlusEven(s0[t], s1[t]);
      acc[t] = hn::MulAdd(hn::ConvertTo(df, isum), hn::Set(df, dw * xq[t * nblocks + b].d), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) sums[t] = hn::GetLane(hn::SumOfLanes(df, acc[t]));
}

#if SUPRA_AVX2_KERNELS
// AVX2 specialization of quant_row: vpmaddubsw multiplies 32 int8 pairs per instruction
// (unsigned × signed, so |w| against x·sign(w), llama.cpp's trick) where the portable path
// widens to int16 first (4 widening shuffles per block, the port-5 bottleneck).
// Limits: |w| ≤ 128 and |x| ≤ 127, so a pair sum ≤ 32512 never saturates int16.
template <bool kQ4>
HWY_INLINE __m256i unpack_block_avx2(const std::byte* codes) {
  if constexpr (kQ4) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);  // elements 16..31 high
    return _mm256_sub_epi8(_mm256_and_si256(both, _mm256_set1_epi8(15)), _mm256_set1_epi8(8));
  } else {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes));
  }
}

// Eight int32 lanes whose sum is Σ w·x over a block of 32 signed int8 pairs: vpmaddubsw is
// unsigned × signed, so |w| meets x·sign(w) (llama.cpp's trick).
HWY_INLINE __m256i signed_dot_i32(__m256i wv, __m256i xv) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv)),
                           _mm256_set1_epi16(1));
}

// acc[t] += dw · x_t.d · Σ w·x_t over block b of a row.
template <int NT, bool kQ4>
HWY_INLINE void block_dots_avx2(BlockRow row, std::int64_t b, const QBlock* xq, std::int64_t stride, __m256* acc) {
  const __m256i wv = unpack_block_avx2<kQ4>(row.codes + static_cast<std::size_t>(b) * row.stride);
  const float dw = block_scale(row.scales + static_cast<std::size_t>(b) * row.stride);
  for (int t = 0; t < NT; ++t) {
    const QBlock& xb = xq[t * stride];
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.q));
    const __m256 p = _mm256_cvtepi32_ps(signed_dot_i32(wv, xv));
    acc[t] = _mm256_fmadd_ps(p, _mm256_set1_ps(dw * xb.d), acc[t]);
  }
}

template <int NT, bool kQ4>
HWY_INLINE void quant_row_avx2(BlockRow row, std::int64_t nblocks, const QBlock* xq, float* sums) {
  // Two blocks per step into two sets of accumulators: with one set, the chain of dependent
  // FMAs (4-5 cycles each) would set the pace for few activation rows instead of the loads.
  __m256 even[NT], odd[NT];
  for (int t = 0; t < NT; ++t) even[t] = odd[t] = _mm256_setzero_ps();
  std::int64_t b = 0;
  for (; b + 1 < nblocks; b += 2) {
    block_dots_avx2<NT, kQ4>(row, b, xq + b, nblocks, even);
    block_dots_avx2<NT, kQ4>(row, b + 1, xq + b + 1, nblocks, odd);
  }
  if (b < nblocks) block_dots_avx2<NT, kQ4>(row, b, xq + b, nblocks, even);
  const hn::Full256<float> df;
  for (int t = 0; t < NT; ++t)
    sums[t] = hn::GetLane(hn::SumOfLanes(df, hn::Vec256<float>{_mm256_add_ps(even[t], odd[t])}));
}

// quant_row_avx2 for any T: activation rows in tiles of 4, y[t·ldy] for row t.
template <bool kQ4>
HWY_INLINE void quant_row_tiles_avx2(BlockRow row, std::int64_t nblocks, const QBlock* xq, std::int64_t T, float* y,
                                     std::int64_t ldy) {
  float sums[kRowsPerPass];
  for (std::int64_t t0 = 0; t0 < T; t0 += kRowsPerPass) {
    const int n = static_cast<int>(std::min<std::int64_t>(kRowsPerPass, T - t0));
    const QBlock* xt = xq + t0 * nblocks;
    switch (n) {
      case 1: quant_row_avx2<1, kQ4>(row, nblocks, xt, sums); break;
      case 2: quant_row_avx2<2, kQ4>(row, nblocks, xt, sums); break;
      case 3: quant_row_avx2<3, kQ4>(row, nblocks, xt, sums); break;
      default: quant_row_avx2<4, kQ4>(row, nblocks, xt, sums); break;
    }
    for (int t = 0; t < n; ++t) y[(t0 + t) * ldy] = sums[t];
  }
}

// Four weight rows against one activation row (decode): each activation block is loaded once
// for four rows, and the rows' integer block sums are folded into one vector so that one
// convert and one FMA serve all four, where quant_row_avx2 spends them per row and block.
// Q4_0 multiplies the unsigned nibbles (0..15) directly and subtracts 8·Σx per half block once
// for all rows: Σ (q − 8)·x = Σ q·x − 8·Σ x.
//
// Four rows read side by side are four short streams (a 4096-wide Q4_0 row is 36 cache lines),
// too short for the hardware prefetchers to pick up; so while one group of four rows is
// multiplied, the next group (`next`, contiguous after it) is prefetched evenly over its blocks.
template <bool kQ4>
HWY_INLINE void quant_rows4_avx2(const std::byte* w, std::size_t row_bytes, std::int64_t nblocks, const QBlock* xq,
                                 const std::byte* next, float* sums) {
  const std::size_t block_bytes = kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const std::size_t prefetch_step = (4 * row_bytes + static_cast<std::size_t>(nblocks) - 1) / static_cast<std::size_t>(nblocks);
  const __m256i ones16 = _mm256_set1_epi16(1);
  __m256 acc = _mm256_setzero_ps();
  for (std::int64_t b = 0; b < nblocks; ++b) {
    if (next) {
      const std::byte* from = next + static_cast<std::size_t>(b) * prefetch_step;
      for (std::size_t off = 0; off < prefetch_step; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(from + off), _MM_HINT_T0);
    }
    const std::byte* block = w + static_cast<std::size_t>(b) * block_bytes;
    const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[b].q));
    __m256i p[4];
    std::int16_t scale_bits[4];
    for (int i = 0; i < 4; ++i) {
      const std::byte* bi = block + static_cast<std::size_t>(i) * row_bytes;
      std::memcpy(&scale_bits[i], bi, 2);
      if constexpr (kQ4) {
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bi + 2));
        const __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(15));
        p[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv), ones16);
      } else {
        p[i] = signed_dot_i32(unpack_block_avx2<false>(bi + 2), xv);
      }
    }
    // Lanes [r0 r1 r2 r3 | r0 r1 r2 r3]: each row's sum over elements 0..15 | 16..31.
    __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    if constexpr (kQ4) {
      __m256i xs = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), xv), ones16);
      xs = _mm256_hadd_epi32(xs, xs);
      xs = _mm256_hadd_epi32(xs, xs);  // every lane of a half: Σ x over that half
      s = _mm256_sub_epi32(s, _mm256_slli_epi32(xs, 3));
    }
    const __m128i scales = _mm_setr_epi16(scale_bits[0], scale_bits[1], scale_bits[2], scale_bits[3], 0, 0, 0, 0);
    const __m128 d = _mm_cvtph_ps(scales);  // the four rows' block scales
    const __m256 dd = _mm256_mul_ps(_mm256_set_m128(d, d), _mm256_set1_ps(xq[b].d));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), dd, acc);
  }
  _mm_storeu_ps(sums, _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1)));
}

// Eight interleaved Q4_0 rows (interleave.h) against NT ≤ 4 activation rows (decode, batched
// decode): y[t·ldy + i] for row i of the group. The group's blocks are one sequential stream;
// per block, one load gives the 8 scales and each 32-byte load the codes of rows k and k+4: one
// mask and one shift unpack their low (elements 0..15) and high (16..31) nibbles together, which
// meet the activation block's halves broadcast to both lanes. The codes are multiplied unsigned
// (0..15) and the −8 offset taken off the integer sums once per block for all 8 rows:
// Σ(q − 8)·x = Σq·x − 8·Σx, Σx kept with the quantized activations. About 5 instructions per
// row and block, against 11 for four plain rows.
template <int NT>
HWY_INLINE void quant_rows8_interleaved_avx2(const std::byte* group, std::int64_t nblocks, const QBlock* xq,
                                             float* y, std::int64_t ldy) {
  const __m256i ones16 = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(15);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (std::int64_t b = 0; b < nblocks; ++b) {
    const std::byte* block = group + static_cast<std::size_t>(b) * kInterleavedBlockBytes;
    // 8 blocks (1152 bytes) ahead: past what the hardware prefetcher has in flight at row ends.
    for (std::size_t line = 0; line < kInterleavedBlockBytes; line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(block + 8 * kInterleavedBlockBytes + line), _MM_HINT_T0);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block)));
    for (int t = 0; t < NT; ++t) {
      const QBlock& x = xq[t * nblocks + b];
      const __m128i xl = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.q));
      const __m128i xh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.q + 16));
      const __m256i x_low = _mm256_set_m128i(xl, xl), x_high = _mm256_set_m128i(xh, xh);
      __m256i p[4];  // lanes 0..3: row k's partial sums, 4..7: row k+4's
      for (int k = 0; k < 4; ++k) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + interleaved_codes_offset(k)));
        const __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
        // Pair sums ≤ 2·15·127 per half: their int16 sum cannot overflow.
        p[k] = _mm256_madd_epi16(
            _mm256_add_epi16(_mm256_maddubs_epi16(lo, x_low), _mm256_maddubs_epi16(hi, x_high)), ones16);
      }
      // Three rounds of pairwise sums leave lanes [row 0 .. row 7].
      const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
      const __m256i centred = _mm256_sub_epi32(s, _mm256_set1_epi32(8 * x.sum));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(centred), _mm256_mul_ps(d, _mm256_set1_ps(x.d)), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm256_storeu_ps(y + t * ldy, acc[t]);
}

// NT activation rows against rows [r0, r1) of an interleaved Q4_0 matrix: whole groups eight
// rows at a time; rows of a range that starts or ends inside a group, and the plain rows after
// the last group, one by one.
template <int NT>
HWY_INLINE void interleaved_rows_avx2(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const QBlock* xq) {
  const std::int64_t nblocks = w.cols / kQuantBlock;
  const std::int64_t grouped = w.rows / kInterleaveRows * kInterleaveRows;
  auto one_row = [&](std::int64_t r) {
    float sums[NT];
    quant_row_avx2<NT, true>(block_row(w, r), nblocks, xq, sums);
    for (int t = 0; t < NT; ++t) y[t * w.rows + r] = sums[t];
  };
  std::int64_t r = r0;
  for (; r % kInterleaveRows != 0 && r < r1; ++r) one_row(r);
  for (; r + kInterleaveRows <= std::min(r1, grouped); r += kInterleaveRows)
    quant_rows8_interleaved_avx2<NT>(w.data + static_cast<std::size_t>(r) * w.row_bytes(), nblocks, xq, y + r,
                                     w.rows);
  for (; r < r1; ++r) one_row(r);
}

// One activation row against rows [r0, r1) of a plain Q8_0/Q4_0 matrix, four rows at a time.
HWY_INLINE void quant_rows_avx2(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const QBlock* xq) {
  const bool q4 = w.dtype == DType::Q4_0;
  const std::size_t row_bytes = w.row_bytes();
  const std::int64_t nblocks = w.cols / kQuantBlock;
  std::int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const std::byte* rows = w.data + static_cast<std::size_t>(r) * row_bytes;
    const std::byte* next = r + 8 <= w.rows ? rows + 4 * row_bytes : nullptr;  // may be the next item's
    q4 ? quant_rows4_avx2<true>(rows, row_bytes, nblocks, xq, next, y + r)
       : quant_rows4_avx2<false>(rows, row_bytes, nblocks, xq, next, y + r);
  }
  for (; r < r1; ++r)
    q4 ? quant_row_avx2<1, true>(block_row(w, r), nblocks, xq, y + r)
       : quant_row_avx2<1, false>(block_row(w, r), nblocks, xq, y + r);
}
#endif

#if SUPRA_AVX512_DOT_KERNELS
#include "kernels/decode_avx512-inl.h"
#endif

template <int NT>
HWY_INLINE void row_dots(const Matrix& w, std::int64_t r, const float* x, const QBlock* xq, float* sums) {
  const std::byte* row = w.data + static_cast<std::size_t>(r) * w.row_bytes();
  const std::int64_t cols = w.cols;
  switch (w.dtype) {
    case DType::F32:
      return float_row<NT>(reinterpret_cast<const float*>(row), cols, x, cols, sums);
    case DType::BF16:
      return float_row<NT>(reinterpret_cast<const hwy::bfloat16_t*>(row), cols, x, cols, sums);
    case DType::F16:
      return float_row<NT>(reinterpret_cast<const hwy::float16_t*>(row), cols, x, cols, sums);
#if SUPRA_AVX2_KERNELS
    case DType::Q8_0:
      return quant_row_avx2<NT, false>(block_row(w, r), cols / kQuantBlock, xq, sums);
    case DType::Q4_0:
      return quant_row_avx2<NT, true>(block_row(w, r), cols / kQuantBlock, xq, sums);
#else
    case DType::Q8_0:
      return quant_row<NT, false>(block_row(w, r), cols / kQuantBlock, xq, sums);
    case DType::Q4_0:
      return quant_row<NT, true>(block_row(w, r), cols / kQuantBlock, xq, sums);
#endif
    default:
      throw Error("matmul: unsupported weight type " + std::string(dtype_name(w.dtype)));
  }
}

std::size_t PreparedRowBytes(const Matrix& w) {
#if SUPRA_AVX512_DOT_KERNELS
  return prepared_row_bytes_avx512(w);
#else
  (void)w;
  return 0;
#endif
}

void PrepareRows(std::byte* out, const Matrix& w, const float* x, const QBlock* xq, std::int64_t T) {
#if SUPRA_AVX512_DOT_KERNELS
  prepare_rows_avx512(out, w, x, xq, T);
#else
  (void)out, (void)w, (void)x, (void)xq, (void)T;
#endif
}

void DotRows(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const float* x, const QBlock* xq,
             std::int64_t T, const std::byte* prepared) {
#if SUPRA_AVX512_DOT_KERNELS
  if (dot_rows_avx512(y, w, r0, r1, xq, prepared, T)) return;
#else
  (void)prepared;
#endif
  if (w.layout == Layout::Lanes16) {  // not this target's layout: its rows as plain copies
    thread_local std::vector<std::byte> rows;
    thread_local std::vector<float> out;
    const std::int64_t n = r1 - r0;
    rows.resize(static_cast<std::size_t>(n) * w.row_bytes());
    out.resize(static_cast<std::size_t>(n * T));
    plain_rows(rows.data(), w, r0, r1);
    DotRows(out.data(), Matrix{w.dtype, n, w.cols, rows.data()}, 0, n, x, xq, T, nullptr);
    for (std::int64_t t = 0; t < T; ++t) std::copy_n(out.data() + t * n, n, y + t * w.rows + r0);
    return;
  }
#if SUPRA_AVX2_KERNELS
  if (xq && w.layout == Layout::Interleaved8) {  // longer spans in tiles of 4 activation rows
    const std::int64_t nblocks = w.cols / kQuantBlock;
    for (std::int64_t t0 = 0; t0 < T; t0 += kRowsPerPass) {
      float* yt = y + t0 * w.rows;
      const QBlock* xt = xq + t0 * nblocks;
      switch (std::min<std::int64_t>(kRowsPerPass, T - t0)) {
        case 1: interleaved_rows_avx2<1>(yt, w, r0, r1, xt); break;
        case 2: interleaved_rows_avx2<2>(yt, w, r0, r1, xt); break;
        case 3: interleaved_rows_avx2<3>(yt, w, r0, r1, xt); break;
        default: interleaved_rows_avx2<4>(yt, w, r0, r1, xt); break;
      }
    }
    return;
  }
  if (xq) {  // plain rows: each activation row in turn, the rows still in L1 after the first
    // One kernel for every T: a row's result does not depend on the rows batched with it.
    const std::int64_t nblocks = w.cols / kQuantBlock;
    for (std::int64_t t = 0; t < T; ++t) quant_rows_avx2(y + t * w.rows, w, r0, r1, xq + t * nblocks);
    return;
  }
#endif
  const std::int64_t nblocks = w.cols / kQuantBlock;
  float sums[kRowsPerPass];
  for (std::int64_t r = r0; r < r1; ++r) {
    for (std::int64_t t0 = 0; t0 < T; t0 += kRowsPerPass) {
      const int n = static_cast<int>(std::min<std::int64_t>(kRowsPerPass, T - t0));
      const float* xt = x ? x + t0 * w.cols : nullptr;
      const QBlock* qt = xq ? xq + t0 * nblocks : nullptr;
      switch (n) {
        case 1: row_dots<1>(w, r, xt, qt, sums); break;
        case 2: row_dots<2>(w, r, xt, qt, sums); break;
        case 3: row_dots<3>(w, r, xt, qt, sums); break;
        default: row_dots<4>(w, r, xt, qt, sums); break;
      }
      for (int t = 0; t < n; ++t) y[(t0 + t) * w.rows + r] = sums[t];
    }
  }
}

bool Lanes16Kernels() {
#if SUPRA_AVX512_DOT_KERNELS
  return cpu_has_avx512_vnni();
#else
  return false;
#endif
}

bool AmxInt8Active() {
#if SUPRA_AVX512_DOT_KERNELS
  return cpu_has_avx512_vnni() && amx_int8_usable();
#else
  return false;
#endif
}

bool DotRowsInBf16(DType weights) {
#if SUPRA_AVX512_DOT_KERNELS
  return weights == DType::BF16 && bf16_dot_avx512();
#else
  (void)weights;
  return false;
#endif
}

void QuantizeActivations(QBlock* out, const float* x, std::int64_t T, std::int64_t cols) {
  const hn::CappedTag<float, kQuantBlock> df;
  const hn::RebindToSigned<decltype(df)> di;
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(df));
  const std::int64_t nblocks = cols / kQuantBlock;
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t b = 0; b < nblocks; ++b) {
      const float* xb = x + t * cols + b * kQuantBlock;
      auto amax = hn::Zero(df);
      for (std::int64_t j = 0; j < kQuantBlock; j += N) amax = hn::Max(amax, hn::Abs(hn::LoadU(df, xb + j)));
      const float m = hn::GetLane(hn::MaxOfLanes(df, amax));
      QBlock& q = out[t * nblocks + b];
      q.d = m / 127.0f;
      const auto inv = hn::Set(df, m > 0.0f ? 127.0f / m : 0.0f);
      for (std::int64_t j = 0; j < kQuantBlock; j += N) {
        const auto v = hn::NearestInt(hn::Mul(hn::LoadU(df, xb + j), inv));
        HWY_ALIGN std::int32_t lanes[kQuantBlock];
        hn::Store(v, di, lanes);
        for (std::int64_t i = 0; i < N; ++i) q.q[j + i] = static_cast<std::int8_t>(lanes[i]);
      }
      q.sum = 0;
      for (std::int8_t v : q.q) q.sum += v;
    }
}

// The 32 codes of a Q4_0 block as signed values (element i < 16 in byte i's low nibble, i ≥ 16 in
// byte i − 16's high nibble, both stored as q + 8).
HWY_INLINE void unpack_q4_0(const std::uint8_t* bytes, std::int8_t* out) {
  const hn::CappedTag<std::uint8_t, 16> du8;
  const hn::RebindToSigned<decltype(du8)> di8;
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(du8));
  const auto low4 = hn::Set(du8, 15);
  const auto eight = hn::Set(di8, 8);
  for (std::int64_t i = 0; i < 16; i += N) {
    const auto v = hn::LoadU(du8, bytes + i);
    hn::StoreU(hn::Sub(hn::BitCast(di8, hn::And(v, low4)), eight), di8, out + i);
    hn::StoreU(hn::Sub(hn::BitCast(di8, hn::ShiftRight<4>(v)), eight), di8, out + 16 + i);
  }
}

// Stores float lanes as float32, or rounded to bf16 (nearest even, as vcvtneps2bf16 and oneDNN's
// reorder round finite values).
template <class DF>
HWY_INLINE void store_decoded(hn::Vec<DF> v, DF df, float* out) {
  hn::StoreU(v, df, out);
}
template <class DF>
HWY_INLINE void store_decoded(hn::Vec<DF> v, DF /*df*/, std::uint16_t* out) {
  const hn::RebindToUnsigned<DF> du32;
  const hn::RebindToSigned<DF> di32;
  const hn::Rebind<std::uint16_t, DF> du16;
  const auto bits = hn::BitCast(du32, v);
  const auto bias = hn::Add(hn::Set(du32, 0x7FFF), hn::And(hn::ShiftRight<16>(bits), hn::Set(du32, 1)));
  hn::StoreU(hn::DemoteTo(du16, hn::BitCast(di32, hn::ShiftRight<16>(hn::Add(bits, bias)))), du16, out);
}
HWY_INLINE void store_decoded_scalar(float v, float* out) { *out = v; }
HWY_INLINE void store_decoded_scalar(float v, std::uint16_t* out) { *out = f32_to_bf16(v); }

// Rows [r0, r1) of w as float32 or bf16 values (Out = float or std::uint16_t), row-major.
template <class Out>
void decode_rows_to(Out* out, const Matrix& w, std::int64_t r0, std::int64_t r1) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<std::int8_t, decltype(df)> di8;
  const hn::RebindToSigned<decltype(df)> di32;
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(df)), cols = w.cols;
  thread_local std::vector<std::byte> plain;  // a Lanes16 row as a plain one (grown once)
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::byte* row = w.data + static_cast<std::size_t>(r) * w.row_bytes();
    Out* o = out + (r - r0) * cols;
    BlockRow blocks{};
    if (is_block_quantized(w.dtype)) {
      if (w.layout == Layout::Lanes16 && r < grouped_rows(w)) {
        plain.resize(w.row_bytes());
        plain_rows(plain.data(), w, r, r + 1);
        blocks = block_row(Matrix{w.dtype, 1, w.cols, plain.data()}, 0);
      } else {
        blocks = block_row(w, r);
      }
    }
    auto widen = [&](const auto* src) {
      std::int64_t c = 0;
      for (; c + N <= cols; c += N) store_decoded(load_f32(df, src + c), df, o + c);
      for (; c < cols; ++c) store_decoded_scalar(scalar_f32(src[c]), o + c);
    };
    switch (w.dtype) {
      case DType::F32: widen(reinterpret_cast<const float*>(row)); break;
      case DType::BF16: widen(reinterpret_cast<const hwy::bfloat16_t*>(row)); break;
      case DType::F16: widen(reinterpret_cast<const hwy::float16_t*>(row)); break;
      case DType::Q8_0:
      case DType::Q4_0: {
        const bool q4 = w.dtype == DType::Q4_0;
        HWY_ALIGN std::int8_t unpacked[kQuantBlock];
        for (std::int64_t b = 0; b < cols / kQuantBlock; ++b) {
          const auto d = hn::Set(df, block_scale(blocks.scales + static_cast<std::size_t>(b) * blocks.stride));
          const auto* bytes = reinterpret_cast<const std::uint8_t*>(blocks.codes + static_cast<std::size_t>(b) * blocks.stride);
          const std::int8_t* codes = reinterpret_cast<const std::int8_t*>(bytes);
          if (q4) {
            unpack_q4_0(bytes, unpacked);
            codes = unpacked;
          }
          for (std::int64_t i = 0; i < kQuantBlock; i += N)
            store_decoded(hn::Mul(d, hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(di8, codes + i)))), df,
                          o + b * kQuantBlock + i);
        }
        break;
      }
      default:
        throw Error("matmul: unsupported weight type " + std::string(dtype_name(w.dtype)));
    }
  }
}

void DecodeRows(float* out, const Matrix& w, std::int64_t r0, std::int64_t r1) { decode_rows_to(out, w, r0, r1); }
void DecodeRowsBf16(std::uint16_t* out, const Matrix& w, std::int64_t r0, std::int64_t r1) {
#if SUPRA_AVX512_DOT_KERNELS
  if (decode_group_bf16_avx512(out, w, r0, r1)) return;
#endif
  decode_rows_to(out, w, r0, r1);
}

void SiluMul(float* out, const float* gate, const float* up, std::int64_t n) {
  const hn::ScalableTag<float> df;
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(df));
  // exp(−g) for g < −88 is past float's range (Highway's Exp is valid up to 104 only); the
  // result there, g·e^g, is 0 to float precision either way.
  const auto one = hn::Set(df, 1.0f), limit = hn::Set(df, 88.0f);
  std::int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto g = hn::LoadU(df, gate + i);
    const auto e = hn::Exp(df, hn::Min(hn::Neg(g), limit));
    hn::StoreU(hn::Mul(hn::Div(g, hn::Add(one, e)), hn::LoadU(df, up + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

double SumSquares(const float* x, std::int64_t n) {
  // Half-width float loads widened to full-width double vectors, two independent sums.
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(dd));
  auto s0 = hn::Zero(dd), s1 = s0;
  std::int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto a = hn::PromoteTo(dd, hn::LoadU(df, x + i)), b = hn::PromoteTo(dd, hn::LoadU(df, x + i + N));
    s0 = hn::MulAdd(a, a, s0);
    s1 = hn::MulAdd(b, b, s1);
  }
  double total = hn::GetLane(hn::SumOfLanes(dd, hn::Add(s0, s1)));
  for (; i < n; ++i) total += double(x[i]) * double(x[i]);
  return total;
}

void ScaleMul(float* y, const float* x, float scale, const float* w, std::int64_t n) {
  const hn::ScalableTag<float> df;
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(df));
  const auto s = hn::Set(df, scale);
  std::int64_t i = 0;
  // (x · scale) · w, the reference's order of the two products.
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(df, x + i), s), hn::LoadU(df, w + i)), df, y + i);
  for (; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void LinearAttentionStep(float* o, float* S, const float* q, const float* k, const float* v, std::int64_t dqk,
                         std::int64_t dv, float gamma, float scale) {
  const hn::ScalableTag<float> df;
  const std::int64_t N = static_cast<std::int64_t>(hn::Lanes(df));
  std::fill(o, o + dv, 0.0f);
  const auto g = hn::Set(df, gamma);
  for (std::int64_t e = 0; e < dqk; ++e) {
    const float ke = scale * k[e], qe = q[e];
    const auto kv = hn::Set(df, ke), qv = hn::Set(df, qe);
    float* Se = S + e * dv;
    std::int64_t f = 0;
    for (; f + N <= dv; f += N) {
      const auto u = hn::MulAdd(kv, hn::LoadU(df, v + f), hn::LoadU(df, Se + f));
      hn::StoreU(hn::MulAdd(qv, u, hn::LoadU(df, o + f)), df, o + f);
      hn::StoreU(hn::Mul(g, u), df, Se + f);
    }
    for (; f < dv; ++f) {
      const float u = Se[f] + ke * v[f];
      o[f] += qe * u;
      Se[f] = gamma * u;
    }
  }
}

std::uint64_t SumWords(const std::uint64_t* p, std::size_t n) {
  const hn::ScalableTag<std::uint64_t> d;
  const std::size_t N = hn::Lanes(d);
  auto a0 = hn::Zero(d), a1 = a0, a2 = a0, a3 = a0;
  std::size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a0 = hn::Add(a0, hn::LoadU(d, p + i));
    a1 = hn::Add(a1, hn::LoadU(d, p + i + N));
    a2 = hn::Add(a2, hn::LoadU(d, p + i + 2 * N));
    a3 = hn::Add(a3, hn::LoadU(d, p + i + 3 * N));
  }
  std::uint64_t total = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (; i < n; ++i) total += p[i];
  return total;
}

}  // namespace HWY_NAMESPACE
}  // namespace supra::kernels::simd
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace supra::kernels::simd {

HWY_EXPORT(DotRows);
HWY_EXPORT(PreparedRowBytes);
HWY_EXPORT(PrepareRows);
HWY_EXPORT(DotRowsInBf16);
HWY_EXPORT(Lanes16Kernels);
HWY_EXPORT(AmxInt8Active);
HWY_EXPORT(QuantizeActivations);
HWY_EXPORT(DecodeRows);
HWY_EXPORT(DecodeRowsBf16);
HWY_EXPORT(LinearAttentionStep);
HWY_EXPORT(SiluMul);
HWY_EXPORT(SumWords);
HWY_EXPORT(SumSquares);
HWY_EXPORT(ScaleMul);

std::uint64_t sum_words(const std::uint64_t* p, std::size_t n) { return HWY_DYNAMIC_DISPATCH(SumWords)(p, n); }

double sum_squares(const float* x, std::int64_t n) { return HWY_DYNAMIC_DISPATCH(SumSquares)(x, n); }

void scale_mul(float* y, const float* x, float scale, const float* w, std::int64_t n) {
  HWY_DYNAMIC_DISPATCH(ScaleMul)(y, x, scale, w, n);
}

std::size_t prepared_row_bytes(const Matrix& w) { return HWY_DYNAMIC_DISPATCH(PreparedRowBytes)(w); }

void prepare_rows(PreparedRows& out, const Matrix& w, const float* x, const QBlock* xq, std::int64_t T) {
  const std::size_t bytes = prepared_row_bytes(w) * static_cast<std::size_t>(T);
  const std::size_t lines = (bytes + sizeof(PreparedRows::Line) - 1) / sizeof(PreparedRows::Line);
  if (out.lines.size() < lines) out.lines.resize(lines);
  HWY_DYNAMIC_DISPATCH(PrepareRows)(out.data(), w, x, xq, T);
}

void dot_rows(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const float* x, const QBlock* xq,
              std::int64_t T, const std::byte* prepared) {
  HWY_DYNAMIC_DISPATCH(DotRows)(y, w, r0, r1, x, xq, T, prepared);
}


bool dot_rows_in_bf16(DType weights) { return HWY_DYNAMIC_DISPATCH(DotRowsInBf16)(weights); }

bool lanes16_kernels() { return HWY_DYNAMIC_DISPATCH(Lanes16Kernels)(); }

void quantize_activations(QBlock* out, const float* x, std::int64_t T, std::int64_t cols) {
  HWY_DYNAMIC_DISPATCH(QuantizeActivations)(out, x, T, cols);
}

void decode_rows(float* out, const Matrix& w, std::int64_t r0, std::int64_t r1) {
  HWY_DYNAMIC_DISPATCH(DecodeRows)(out, w, r0, r1);
}

void decode_rows_bf16(std::uint16_t* out, const Matrix& w, std::int64_t r0, std::int64_t r1) {
  HWY_DYNAMIC_DISPATCH(DecodeRowsBf16)(out, w, r0, r1);
}

void silu_mul(float* out, const float* gate, const float* up, std::int64_t n) {
  HWY_DYNAMIC_DISPATCH(SiluMul)(out, gate, up, n);
}

void linear_attention_step(float* o, float* S, const float* q, const float* k, const float* v, std::int64_t dqk,
                           std::int64_t dv, float gamma, float scale) {
  HWY_DYNAMIC_DISPATCH(LinearAttentionStep)(o, S, q, k, v, dqk, dv, gamma, scale);
}

std::vector<std::int64_t> available_targets() {
  std::vector<std::int64_t> targets = hwy::SupportedAndGeneratedTargets();
  std::sort(targets.begin(), targets.end(), [](std::int64_t a, std::int64_t b) { return a > b; });
  return targets;  // Highway's bits are larger for older targets: best is last
}

std::string target_name(std::int64_t target) { return hwy::TargetName(target); }

void force_target(std::int64_t target) { hwy::SetSupportedTargetsForTest(target); }

namespace {
std::atomic<bool> g_amx_allowed{true};
}  // namespace
void allow_amx(bool allowed) { g_amx_allowed.store(allowed, std::memory_order_relaxed); }
bool amx_allowed() { return g_amx_allowed.load(std::memory_order_relaxed); }
bool amx_int8_active() { return HWY_DYNAMIC_DISPATCH(AmxInt8Active)(); }

std::string current_target() {
  const std::vector<std::int64_t> targets = available_targets();
  return targets.empty() ? "none" : target_name(targets.back());
}

}  // namespace supra::kernels::simd
#endif  // HWY_ONCE
