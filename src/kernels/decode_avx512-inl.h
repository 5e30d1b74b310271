// Decode / short-span kernels of dot_rows for AVX-512 VNNI CPUs, with AVX512_BF16 where present
// (Highway's AVX3_DL target: Intel from Ice Lake, AMD from Zen 4). simd.cpp includes this file inside its
// per-target namespace in the AVX3_DL pass only, so it is compiled exactly once.
//
// One weight block, loaded once, meets all T activation rows (T < kGemmMinTokens) from
// registers: R weight rows × NT activation rows of accumulators (R = 4, NT ≤ 4 up to T = 4; R = 2,
// NT ≤ 8 above; T > 8 in two tiles, the second reading the same few rows again from L1).
//  - Q8_0 / Q4_0 in the Lanes16 layout (interleave.h; what a loaded model runs on these CPUs):
//    16 rows, one per 32-bit lane, against up to 8 activation rows; per block and activation row
//    8 vpdpbusd with the activation bytes broadcast, one convert and one FMA for all 16 rows.
//    No reduction across lanes: ~12 instructions per 512 multiply-adds against ~4 per 64 for
//    plain rows, which took batched decode at 32 sequences from 82 to ~220 G multiply-adds/s
//    on 2 cores (vpdpbusd's own rate on this host: ~1.5 G a core and second). Where the CPU has
//    AMX-INT8, 16 or more activation rows go through tile multiplies instead (TDPBSUD: 16 rows ×
//    up to 16 activation rows × 32 codes an instruction), with the same result bit for bit.
//  - Q8_0 / Q4_0, plain rows: two blocks per 512-bit vector; vpdpbusd multiplies the weight codes
//    made unsigned (Q8_0: w + 128, Q4_0: the stored nibble w + 8) with the signed int8
//    activations, and its accumulator starts at −c·Σx of each lane, so the integer sums are
//    exact Σ w·x. One convert and one FMA per vector apply both blocks' scales.
//    The activations are repacked per dot_rows call (a work item of 64 rows: T·cols bytes
//    against 64·cols weights) into the order the unpacked weights come in (XPair), with those
//    offsets and the scales spread over the lanes.
//  - Q4_0 interleaved (interleave.h): per block, two 64-byte loads hold the 8 rows' codes, the
//    activation halves broadcast to the four 128-bit lanes; 8 rows per 4 vpdpbusd.
//  - BF16 weights on CPUs with AVX512_BF16: vdpbf16ps against the activations rounded to bf16
//    (as llama.cpp does, and as gemm() does from 16 tokens on), where the AVX2-style path widens
//    every weight to f32 first.
// Highway 1.0.3's AVX3_DL target string names AVX-VNNI but not AVX512_VNNI nor AVX512_BF16: the
// functions below are compiled with those added, and run only where the CPU reports them.

// The activations of one pair of blocks (b, b + 1) of one row, in the order the weight codes are
// unpacked to: int8 codes, the lane offsets −c·Σ(4 codes) for unsigned weights w + c, and each
// lane's block scale.
struct alignas(64) XPair {
  std::int8_t q[64];
  std::int32_t offset[16];
  float d[16];
};

inline bool cpu_has_avx512_vnni() {
  static const bool has = __builtin_cpu_supports("avx512vnni");
  return has;
}
inline bool cpu_has_avx512_bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}

// Rows per pass and activation rows per tile: R·NT accumulators plus the R weight vectors and
// their scales stay within the 32 vector registers.
constexpr int kVnniMaxTile = 8;
inline int rows_per_pass_avx512(std::int64_t T) { return T <= 4 ? 4 : 2; }
// The tile sizes T is split into: T itself up to 8, then 8 and the rest.
inline int first_tile_avx512(std::int64_t T) { return static_cast<int>(std::min<std::int64_t>(T, kVnniMaxTile)); }

// Calls f(std::integral_constant<int, nt>{}) for nt in [1, kMax]: the kernels take their tile
// of activation rows as a template argument, so that its accumulators live in registers.
template <int kMax, class F>
HWY_INLINE void with_tile(int nt, F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((nt == I + 1 ? (f(std::integral_constant<int, I + 1>{}), true) : false) || ...);
  }(std::make_integer_sequence<int, kMax>{});
}

HWY_PUSH_ATTRIBUTES("avx512vnni")

// Repacks T rows of quantized activations (nblocks each) into T rows of ⌈nblocks/2⌉ XPairs for
// Q4_0 (kQ4) or Q8_0 weights. A missing block b + 1 (odd nblocks) is zero.
template <bool kQ4>
void pack_pairs_avx512(XPair* out, const QBlock* xq, std::int64_t T, std::int64_t nblocks) {
  const std::int64_t npairs = (nblocks + 1) / 2;
  const QBlock zero{};
  const __m512i c = _mm512_set1_epi8(static_cast<char>(kQ4 ? 8 : 128));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t p = 0; p < npairs; ++p) {
      const QBlock& a = xq[t * nblocks + 2 * p];
      const QBlock& b = 2 * p + 1 < nblocks ? xq[t * nblocks + 2 * p + 1] : zero;
      XPair& o = out[t * npairs + p];
      if constexpr (kQ4) {  // [a 0..15 | b 0..15 | a 16..31 | b 16..31]: low nibbles, then high
        std::memcpy(o.q, a.q, 16);
        std::memcpy(o.q + 16, b.q, 16);
        std::memcpy(o.q + 32, a.q + 16, 16);
        std::memcpy(o.q + 48, b.q + 16, 16);
      } else {
        std::memcpy(o.q, a.q, 32);
        std::memcpy(o.q + 32, b.q, 32);
      }
      const __m512i q = _mm512_load_si512(o.q);
      _mm512_store_si512(o.offset, _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), c, q)));
      const __mmask16 second = kQ4 ? 0xF0F0 : 0xFF00;  // the lanes of block b + 1
      _mm512_store_ps(o.d, _mm512_mask_blend_ps(second, _mm512_set1_ps(a.d), _mm512_set1_ps(b.d)));
    }
}

// Weight codes of blocks (b, b + 1) of one row as unsigned bytes in XPair order, and the two
// block scales spread over the lanes the same way. `both` is false for a lone last block.
template <bool kQ4>
HWY_INLINE void load_pair_avx512(const std::byte* blk, bool both, __m512i& codes, __m512& scales) {
  if constexpr (kQ4) {
    // [scale b, 16 codes, scale b+1, 16 codes]: 36 bytes, the rest of the vector zero.
    alignas(64) static constexpr std::uint8_t kCodes[64] = {
        2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 23, 24, 25,
        26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13,
        14, 15, 16, 17, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35};
    alignas(64) static constexpr std::uint16_t kScales[32] = {0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 9, 9, 9, 9};
    const __m512i raw = _mm512_maskz_loadu_epi8(both ? 0xFFFFFFFFFull : 0x3FFFFull, blk);
    const __m512i bytes = _mm512_permutexvar_epi8(_mm512_load_si512(kCodes), raw);
    // Low nibbles in the first two 128-bit lanes, high nibbles (elements 16..31) in the last two.
    codes = _mm512_and_si512(_mm512_mask_srli_epi16(bytes, 0xFFFF0000u, bytes, 4), _mm512_set1_epi8(15));
    scales = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(_mm512_load_si512(kScales), raw)));
  } else {
    // Two 34-byte blocks [scale, 32 codes]: the codes of both in one vector, made unsigned
    // (w + 128); the two scales converted as a pair and spread over their lanes. (Two 64-byte
    // loads and byte/word permutes instead were ~30% slower at T = 1.)
    alignas(64) static constexpr std::int32_t kScales[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    std::uint16_t s0, s1 = 0;
    std::memcpy(&s0, blk, 2);
    __m512i both_codes = _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2)));
    if (both) {
      std::memcpy(&s1, blk + kQ8_0BlockBytes, 2);
      both_codes = _mm512_inserti64x4(
          both_codes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kQ8_0BlockBytes + 2)), 1);
    }
    codes = _mm512_xor_si512(both_codes, _mm512_set1_epi8(static_cast<char>(0x80)));
    const __m128 d = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(s0 | (std::uint32_t{s1} << 16))));
    scales = _mm512_permutexvar_ps(_mm512_load_si512(kScales), _mm512_castps128_ps512(d));
  }
}

// y[t·ldy + i] = Σ_c w_i·x_t for R consecutive plain rows at w and NT activation rows (xp, rows
// npairs apart). While these rows are multiplied, `next` (the following R rows, or null) is
// prefetched evenly over the pairs: a few rows side by side are streams too short for the
// hardware prefetchers.
template <bool kQ4, int R, int NT>
void quant_rows_avx512(const std::byte* w, std::size_t row_bytes, std::int64_t nblocks, const XPair* xp,
                       std::int64_t npairs, float* y, std::int64_t ldy, const std::byte* next) {
  const std::size_t pair_bytes = 2 * (kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes);
  const std::size_t prefetch_step = (R * row_bytes + static_cast<std::size_t>(npairs) - 1) / static_cast<std::size_t>(npairs);
  __m512 acc[R][NT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  for (std::int64_t p = 0; p < npairs; ++p) {
    if (next) {
      const std::byte* from = next + static_cast<std::size_t>(p) * prefetch_step;
      for (std::size_t off = 0; off < prefetch_step; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(from + off), _MM_HINT_T0);
    }
    const bool both = 2 * p + 1 < nblocks;
    __m512i codes[R];
    __m512 scales[R];
    for (int r = 0; r < R; ++r)
      load_pair_avx512<kQ4>(w + static_cast<std::size_t>(r) * row_bytes + static_cast<std::size_t>(p) * pair_bytes, both,
                            codes[r], scales[r]);
    for (int t = 0; t < NT; ++t) {
      const XPair& x = xp[t * npairs + p];
      const __m512i xv = _mm512_load_si512(x.q), offset = _mm512_load_si512(x.offset);
      const __m512 dx = _mm512_load_ps(x.d);
      for (int r = 0; r < R; ++r) {
        const __m512i s = _mm512_dpbusd_epi32(offset, codes[r], xv);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(scales[r], dx), acc[r][t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < R; ++r) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

template <bool kQ4, int R>
void quant_tile_avx512(int nt, const std::byte* w, std::size_t row_bytes, std::int64_t nblocks, const XPair* xp,
                       std::int64_t npairs, float* y, std::int64_t ldy, const std::byte* next) {
  with_tile<R == 4 ? 4 : kVnniMaxTile>(nt, [&](auto n) {  // R = 4 serves T ≤ 4 only
    quant_rows_avx512<kQ4, R, decltype(n)::value>(w, row_bytes, nblocks, xp, npairs, y, ldy, next);
  });
}

// All T activation rows against rows [r0, r1) of a plain Q8_0/Q4_0 matrix.
// `pairs`: the T rows packed by pack_pairs_avx512 (prepare_rows_avx512), once per matmul call.
template <bool kQ4>
void quant_rows_plain_avx512(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const XPair* pairs,
                             std::int64_t T) {
  const std::int64_t nblocks = w.cols / kQuantBlock, npairs = (nblocks + 1) / 2;
  const std::size_t row_bytes = w.row_bytes();
  const int R = rows_per_pass_avx512(T), first = first_tile_avx512(T);
  auto pass = [&](std::int64_t r, int rows) {
    const std::byte* wr = w.data + static_cast<std::size_t>(r) * row_bytes;
    const std::byte* next = r + 2 * rows <= w.rows ? wr + static_cast<std::size_t>(rows) * row_bytes : nullptr;
    for (std::int64_t t0 = 0; t0 < T; t0 += first) {
      const int nt = static_cast<int>(std::min<std::int64_t>(first, T - t0));
      const XPair* xp = pairs + t0 * npairs;
      float* yt = y + t0 * w.rows + r;
      const std::byte* ahead = t0 == 0 ? next : nullptr;
      if (rows == 4) quant_tile_avx512<kQ4, 4>(nt, wr, row_bytes, nblocks, xp, npairs, yt, w.rows, ahead);
      else if (rows == 2) quant_tile_avx512<kQ4, 2>(nt, wr, row_bytes, nblocks, xp, npairs, yt, w.rows, ahead);
      else quant_tile_avx512<kQ4, 1>(nt, wr, row_bytes, nblocks, xp, npairs, yt, w.rows, ahead);
    }
  };
  std::int64_t r = r0;
  for (; r + R <= r1; r += R) pass(r, R);
  for (; r < r1; ++r) pass(r, 1);
}

// One interleaved group of 8 Q4_0 rows against NT activation rows: y[t·ldy + i] for row i.
// Per block: chunk k of 32 bytes holds rows k and k + 4, so the 64 bytes at offset 16 hold rows
// [0 | 4 | 1 | 5] and those at 80 rows [2 | 6 | 3 | 7], one row per 128-bit lane; masked low
// nibbles meet elements 0..15 of the activation block, shifted high ones 16..31, each broadcast
// to the four lanes. The accumulator starts at −2·Σx per lane (4 lanes a row: −8·Σx).
template <int NT>
void q4_group_avx512(const std::byte* group, std::int64_t nblocks, const QBlock* xq, float* y, std::int64_t ldy,
                     bool prefetch) {
  alignas(64) static constexpr std::int32_t kScalesA[16] = {0, 0, 0, 0, 4, 4, 4, 4, 1, 1, 1, 1, 5, 5, 5, 5};
  alignas(64) static constexpr std::int32_t kScalesB[16] = {2, 2, 2, 2, 6, 6, 6, 6, 3, 3, 3, 3, 7, 7, 7, 7};
  alignas(64) static constexpr std::int32_t kRows[16] = {0, 8, 1, 9, 4, 12, 5, 13, 0, 0, 0, 0, 0, 0, 0, 0};
  const __m512i low4 = _mm512_set1_epi8(15);
  const __m512i idx_a = _mm512_load_si512(kScalesA), idx_b = _mm512_load_si512(kScalesB);
  __m512 acc_a[NT], acc_b[NT];
  for (int t = 0; t < NT; ++t) acc_a[t] = acc_b[t] = _mm512_setzero_ps();
  for (std::int64_t b = 0; b < nblocks; ++b) {
    const std::byte* block = group + static_cast<std::size_t>(b) * kInterleavedBlockBytes;
    if (prefetch)  // 8 blocks ahead, as the AVX2 kernel
      for (std::size_t line = 0; line < kInterleavedBlockBytes; line += 64)
        _mm_prefetch(reinterpret_cast<const char*>(block + 8 * kInterleavedBlockBytes + line), _MM_HINT_T0);
    const __m512 d8 = _mm512_cvtph_ps(_mm256_zextsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block))));
    const __m512 dw_a = _mm512_permutexvar_ps(idx_a, d8), dw_b = _mm512_permutexvar_ps(idx_b, d8);
    const __m512i va = _mm512_loadu_si512(block + interleaved_codes_offset(0));
    const __m512i vb = _mm512_loadu_si512(block + interleaved_codes_offset(2));
    const __m512i lo_a = _mm512_and_si512(va, low4), hi_a = _mm512_and_si512(_mm512_srli_epi16(va, 4), low4);
    const __m512i lo_b = _mm512_and_si512(vb, low4), hi_b = _mm512_and_si512(_mm512_srli_epi16(vb, 4), low4);
    for (int t = 0; t < NT; ++t) {
      const QBlock& x = xq[t * nblocks + b];
      const __m512i x_lo = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.q)));
      const __m512i x_hi = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.q + 16)));
      const __m512i offset = _mm512_set1_epi32(-2 * x.sum);
      const __m512i sa = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(offset, lo_a, x_lo), hi_a, x_hi);
      const __m512i sb = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(offset, lo_b, x_lo), hi_b, x_hi);
      const __m512 dx = _mm512_set1_ps(x.d);
      acc_a[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sa), _mm512_mul_ps(dw_a, dx), acc_a[t]);
      acc_b[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sb), _mm512_mul_ps(dw_b, dx), acc_b[t]);
    }
  }
  for (int t = 0; t < NT; ++t) {
    // Per 128-bit lane c: [A, B, A, B] with A, B the sums of rows (0 4 1 5)[c] and (2 6 3 7)[c].
    const __m512 pairs = _mm512_add_ps(_mm512_unpacklo_ps(acc_a[t], acc_b[t]), _mm512_unpackhi_ps(acc_a[t], acc_b[t]));
    const __m512 sums = _mm512_add_ps(pairs, _mm512_permute_ps(pairs, _MM_SHUFFLE(1, 0, 3, 2)));
    _mm256_storeu_ps(y + t * ldy, _mm512_castps512_ps256(_mm512_permutexvar_ps(_mm512_load_si512(kRows), sums)));
  }
}

void q4_group_tile_avx512(int nt, const std::byte* group, std::int64_t nblocks, const QBlock* xq, float* y,
                          std::int64_t ldy, bool prefetch) {
  with_tile<kVnniMaxTile>(nt, [&](auto n) { q4_group_avx512<decltype(n)::value>(group, nblocks, xq, y, ldy, prefetch); });
}

// All T activation rows against rows [r0, r1) of an interleaved Q4_0 matrix: whole groups as
// above; rows of a range that starts or ends inside a group, and the plain rows after the last
// group, one by one through the single-row kernel.
void interleaved_rows_avx512(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const QBlock* xq,
                             std::int64_t T) {
  const std::int64_t nblocks = w.cols / kQuantBlock;
  const std::int64_t grouped = w.rows / kInterleaveRows * kInterleaveRows;
  const int first = first_tile_avx512(T);
  auto one_row = [&](std::int64_t r) { quant_row_tiles_avx2<true>(block_row(w, r), nblocks, xq, T, y + r, w.rows); };
  std::int64_t r = r0;
  for (; r % kInterleaveRows != 0 && r < r1; ++r) one_row(r);
  for (; r + kInterleaveRows <= std::min(r1, grouped); r += kInterleaveRows)
    for (std::int64_t t0 = 0; t0 < T; t0 += first)
      q4_group_tile_avx512(static_cast<int>(std::min<std::int64_t>(first, T - t0)),
                           w.data + static_cast<std::size_t>(r) * w.row_bytes(), nblocks, xq + t0 * nblocks,
                           y + t0 * w.rows + r, w.rows, t0 == 0);
  for (; r < r1; ++r) one_row(r);
}

// One Lanes16 group of 16 Q8_0 (kQ4 false) or Q4_0 rows against NT activation rows:
// y[t·ldy + i] for row i. Per block, the codes of all 16 rows in 8 vectors (Q4_0: 4 loads, low
// nibbles the first 16 elements, high ones the last 16), then per activation row 8 vpdpbusd
// against its code bytes broadcast four at a time, the accumulator started at −c·Σx (c = 128
// or 8: the weights' offset), one convert and one FMA with the 16 rows' scales times the
// activation's. Each row's sum is the exact integer block sums, scaled and added block after
// block in its own lane: the same operations whatever NT, so a row's result does not depend on
// the activation rows batched with it. G consecutive groups are read side by side (G streams in
// flight, for decode), each as one group alone.
template <bool kQ4, int NT, int G = 1>
void lanes16_group_avx512(const std::byte* group, std::int64_t nblocks, const QBlock* xq, float* y, std::int64_t ldy) {
  constexpr std::size_t kBlockBytes = kLaneRows * (kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes);
  constexpr int kOffset = kQ4 ? 8 : 128;
  const std::size_t group_bytes = static_cast<std::size_t>(nblocks) * kBlockBytes;
  const __m512i low4 = _mm512_set1_epi8(15);
  __m512 acc[G][NT];
  for (int g = 0; g < G; ++g)
    for (int t = 0; t < NT; ++t) acc[g][t] = _mm512_setzero_ps();
  for (std::int64_t b = 0; b < nblocks; ++b) {
    for (int g = 0; g < G; ++g) {
      const std::byte* block = group + g * group_bytes + static_cast<std::size_t>(b) * kBlockBytes;
      for (std::size_t line = 0; line < kBlockBytes; line += 64)  // 4 blocks ahead: one stream
        _mm_prefetch(reinterpret_cast<const char*>(block + 4 * kBlockBytes + line), _MM_HINT_T0);
      const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)));
      __m512i codes[8];
      if constexpr (kQ4) {
        for (int k = 0; k < 4; ++k) {
          const __m512i v = _mm512_loadu_si512(block + kLaneScalesBytes + 64 * k);
          codes[k] = _mm512_and_si512(v, low4);
          codes[k + 4] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        }
      } else {
        for (int k = 0; k < 8; ++k) codes[k] = _mm512_loadu_si512(block + kLaneScalesBytes + 64 * k);
      }
      for (int t = 0; t < NT; ++t) {
        const QBlock& x = xq[t * nblocks + b];
        __m512i s = _mm512_set1_epi32(-kOffset * x.sum);
        // Broadcasts straight from memory (a load, no shuffle port), not through a register.
        for (int k = 0; k < 8; ++k)
          s = _mm512_dpbusd_epi32(s, codes[k], _mm512_broadcastd_epi32(_mm_loadu_si32(x.q + 4 * k)));
        acc[g][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(x.d)), acc[g][t]);
      }
    }
  }
  for (int g = 0; g < G; ++g)
    for (int t = 0; t < NT; ++t) _mm512_storeu_ps(y + t * ldy + g * kLaneRows, acc[g][t]);
}

// Activation rows per Lanes16 tile: 8 code vectors and 2·8 accumulators fit the registers.
constexpr int kLaneTile = 8;

template <bool kQ4>
void lanes16_tile_avx512(int nt, const std::byte* group, std::int64_t nblocks, const QBlock* xq, float* y,
                         std::int64_t ldy) {
  with_tile<kLaneTile>(nt, [&](auto n) { lanes16_group_avx512<kQ4, decltype(n)::value>(group, nblocks, xq, y, ldy); });
}

HWY_POP_ATTRIBUTES

// AMX-INT8 (Sapphire Rapids on): the same Lanes16 groups against up to 16 activation rows per
// tile multiply. A Lanes16 block is already AMX's B operand for 16 columns (its 512 code bytes
// are 8 rows of 16 × 4 bytes); the activation rows' code bytes are the A operand (laid out once
// per call by prepare_amx_rows); one TDPBSUD gives all 16 × M exact integer block sums (signed
// activations × unsigned codes), which then take −c·Σx, one convert and one FMA per activation
// row exactly as in lanes16_group_avx512: the same integers and the same float operations in
// the same order, so a row's result is bit for bit the VNNI kernel's. Against the 8 vpdpbusd per
// activation row and block there, the tile multiply does the integer work of 16 rows at once;
// what is left per block and activation row (add, convert, multiply, FMA) and the weights'
// memory latency bound it (batch 32: ~10% above the VNNI kernels, not the 2x of the arithmetic).

// Whether the CPU has AMX-INT8 and Linux lets this process use the tile state (asked once:
// arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); tests can switch the kernels off.
inline bool amx_int8_granted() {
  static const bool granted = [] {
    if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-int8")) return false;
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return granted;
}
inline bool amx_int8_usable() { return amx_allowed() && amx_int8_granted(); }

// From this many activation rows on, Lanes16 groups go through the tile multiply. Measured on
// supra-1b (2 threads, batched decode tok/s, VNNI → tiles): q8 batch 8 110 → 95, 16 131 → 146,
// 32 158 → 167; q4 batch 8 136 → 111, 16 157 → 174, 32 165 → 170. Half-filled tiles lose to the
// VNNI kernels, and the tile loads of the weights wait on memory (the kernel's hot spot).
constexpr std::int64_t kAmxMinRows = 16;
constexpr int kAmxTileRows = 16;

// The tile shapes of lanes16_group_amx for M activation rows: tile 0 the sums (M × 16 int32),
// 1 the activation codes (M × 32 bytes), 2 a block's codes (8 × 64 bytes), and the same as 3-5.
// Checked before every run of tiles: other code on the thread (oneDNN's AMX matmuls) sets
// shapes of its own.
struct alignas(64) TileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};

// The activations of a call as the tile multiplies read them, prepared once per call (the
// QBlocks of one block lie 40 bytes × nblocks apart, so a tile load of 16 rows would touch 16 to
// 32 lines of L2): per block, the T rows' 32 code bytes one after another (an A operand of 16
// rows is 8 whole lines), then their corrections −c·Σx (int32), then their scales (float).
// Compiled without the AMX flags: it uses none, and GCC 12 dropped the call to it from
// prepare_rows_avx512 when it carried them (the tests caught it).
inline std::size_t amx_block_bytes(std::int64_t T) { return static_cast<std::size_t>(T) * sizeof(QBlock); }

inline void prepare_amx_rows(std::byte* out, const QBlock* xq, std::int64_t T, std::int64_t nblocks, int offset) {
  for (std::int64_t b = 0; b < nblocks; ++b) {
    std::byte* block = out + b * amx_block_bytes(T);
    auto* corr = reinterpret_cast<std::int32_t*>(block + T * kQuantBlock);
    auto* d = reinterpret_cast<float*>(block + T * (kQuantBlock + 4));
    for (std::int64_t t = 0; t < T; ++t) {
      const QBlock& x = xq[t * nblocks + b];
      std::memcpy(block + t * kQuantBlock, x.q, kQuantBlock);
      corr[t] = -offset * x.sum;
      d[t] = x.d;
    }
  }
}

HWY_PUSH_ATTRIBUTES("avx512vnni,amx-tile,amx-int8")

inline void configure_tiles_amx(int M) {
  TileConfig config;
  for (int set = 0; set < 2; ++set) {  // tiles 0-2 and 3-5: two blocks in flight
    config.rows[3 * set] = static_cast<std::uint8_t>(M), config.colsb[3 * set] = 64;
    config.rows[3 * set + 1] = static_cast<std::uint8_t>(M), config.colsb[3 * set + 1] = kQuantBlock;
    config.rows[3 * set + 2] = 8, config.colsb[3 * set + 2] = 64;
  }
  // Loading a configuration clears the tiles and costs more than reading the current one; the
  // tiles stay configured between calls (released when the thread ends). Not the intrinsics:
  // GCC 12's tell the compiler they access 8 bytes, so the stores of the other 56 may be dropped.
  TileConfig current;
  asm volatile("sttilecfg %0" : "=m"(current));
  if (std::memcmp(&current, &config, sizeof config) != 0) asm volatile("ldtilecfg %0" ::"m"(config));
}

// GCC 12's tile loads and stores are asm statements that do not tell the compiler they read or
// write memory, so it may move the stores of a buffer past the tile load that reads it, or the
// loads of the sums before the tile store that writes them. This fence orders them.
HWY_INLINE void tile_memory_fence(const void* buffer) { asm volatile("" ::"r"(buffer) : "memory"); }

// The codes of block b of a Lanes16 group as AMX's B operand: Q8_0 in place, Q4_0 unpacked
// into `scratch` (low nibbles the first 16 elements, high ones the last 16, as the VNNI kernel).
template <bool kQ4>
HWY_INLINE const void* amx_b_operand(const std::byte* block, std::uint8_t* scratch) {
  if constexpr (!kQ4) {
    return block + kLaneScalesBytes;
  } else {
    const __m512i low4 = _mm512_set1_epi8(15);
    for (int k = 0; k < 4; ++k) {
      const __m512i v = _mm512_loadu_si512(block + kLaneScalesBytes + 64 * k);
      _mm512_store_si512(scratch + 64 * k, _mm512_and_si512(v, low4));
      _mm512_store_si512(scratch + 64 * (k + 4), _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
    }
    return scratch;
  }
}

// One Lanes16 group against the M ≤ 16 activation rows [t0, t0 + M) of the T prepared ones:
// y[t·ldy + i] for row i. The tiles must be configured for M. Tile registers are not renamed,
// so one set of tiles would make each block wait for the last one's multiply and store: the
// blocks alternate between tiles 0-2 and 3-5, the multiply of block b + 1 issued before block
// b's sums are scaled. M is a template argument so that the accumulators live in registers.
template <bool kQ4, int M>
void lanes16_group_amx(const std::byte* group, std::int64_t nblocks, const std::byte* prepared, std::int64_t T,
                       std::int64_t t0, float* y, std::int64_t ldy) {
  constexpr std::size_t kBlockBytes = kLaneRows * (kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes);
  alignas(64) std::int32_t sums[2][kAmxTileRows][kLaneRows];
  alignas(64) std::uint8_t unpacked[2][8 * 64];  // Q4_0 only
  const std::size_t x_block = amx_block_bytes(T);
  auto block_at = [&](std::int64_t b) { return group + static_cast<std::size_t>(b) * kBlockBytes; };
  auto codes_at = [&](std::int64_t b) { return prepared + b * x_block + t0 * kQuantBlock; };
  auto multiply = [&](std::int64_t b, auto set) {  // block b into tile set `set` (0 or 1)
    const std::byte* block = block_at(b);
    for (std::size_t line = 0; line < kBlockBytes; line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(block + 16 * kBlockBytes + line), _MM_HINT_T0);  // 4 ahead: 8% slower than 16
    const void* codes = amx_b_operand<kQ4>(block, unpacked[set]);
    tile_memory_fence(codes);
    if constexpr (decltype(set)::value == 0) {
      _tile_zero(0);
      _tile_loadd(1, codes_at(b), kQuantBlock);
      _tile_loadd(2, codes, 64);
      _tile_dpbsud(0, 1, 2);
    } else {
      _tile_zero(3);
      _tile_loadd(4, codes_at(b), kQuantBlock);
      _tile_loadd(5, codes, 64);
      _tile_dpbsud(3, 4, 5);
    }
  };
  __m512 acc[M];
  for (int t = 0; t < M; ++t) acc[t] = _mm512_setzero_ps();
  auto scale = [&](std::int64_t b, const std::int32_t (*s)[kLaneRows]) {
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block_at(b))));
    const std::byte* x = prepared + b * x_block;
    const auto* corr = reinterpret_cast<const std::int32_t*>(x + T * kQuantBlock) + t0;
    const auto* d = reinterpret_cast<const float*>(x + T * (kQuantBlock + 4)) + t0;
    for (int t = 0; t < M; ++t) {
      const __m512i sum = _mm512_add_epi32(_mm512_load_si512(s[t]), _mm512_set1_epi32(corr[t]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw, _mm512_set1_ps(d[t])), acc[t]);
    }
  };
  using Set0 = std::integral_constant<int, 0>;
  using Set1 = std::integral_constant<int, 1>;
  multiply(0, Set0{});
  for (std::int64_t b = 0; b < nblocks; b += 2) {
    _tile_stored(0, sums[0], 64);
    tile_memory_fence(sums[0]);
    if (b + 1 < nblocks) multiply(b + 1, Set1{});
    scale(b, sums[0]);
    if (b + 1 >= nblocks) break;
    _tile_stored(3, sums[1], 64);
    tile_memory_fence(sums[1]);
    if (b + 2 < nblocks) multiply(b + 2, Set0{});
    scale(b + 1, sums[1]);
  }
  for (int t = 0; t < M; ++t) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

// Every activation row against one whole group, in even tiles of at most 16 rows.
template <bool kQ4>
void lanes16_group_rows_amx(const std::byte* group, std::int64_t nblocks, const std::byte* prepared, std::int64_t T,
                            float* y, std::int64_t ldy, int& configured) {
  const std::int64_t tiles = (T + kAmxTileRows - 1) / kAmxTileRows, tile = (T + tiles - 1) / tiles;
  for (std::int64_t t0 = 0; t0 < T; t0 += tile) {
    const int M = static_cast<int>(std::min(tile, T - t0));
    if (M != configured) configure_tiles_amx(configured = M);
    with_tile<kAmxTileRows>(M, [&](auto m) {
      lanes16_group_amx<kQ4, decltype(m)::value>(group, nblocks, prepared, T, t0, y + t0 * ldy, ldy);
    });
  }
}

HWY_POP_ATTRIBUTES

HWY_PUSH_ATTRIBUTES("avx512vnni")

// All T activation rows against rows [r0, r1) of a Lanes16 matrix: whole groups in tiles of up
// to kLaneTile activation rows (even tiles: 12 rows go as 6 + 6), or for few rows 2 or 4 groups
// side by side; a group the range cuts is computed whole into scratch and the range's rows
// copied out; the plain rows after the last group through the single-row kernel.
template <bool kQ4>
void lanes16_rows_avx512(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const QBlock* xq,
                         const std::byte* prepared, std::int64_t T) {
  const std::int64_t nblocks = w.cols / kQuantBlock, grouped = grouped_rows(w);
  const std::int64_t tiles = (T + kLaneTile - 1) / kLaneTile, tile = (T + tiles - 1) / tiles;
  const bool amx = prepared != nullptr;  // prepared for the tiles (prepare_rows_avx512)
  int configured = 0;  // the activation rows the tiles are configured for (0: not yet)
  auto group = [&](std::int64_t g, float* out, std::int64_t ldy) {
    const std::byte* data = w.data + static_cast<std::size_t>(g) * w.row_bytes();
    if (amx) return lanes16_group_rows_amx<kQ4>(data, nblocks, prepared, T, out, ldy, configured);
    for (std::int64_t t0 = 0; t0 < T; t0 += tile)
      lanes16_tile_avx512<kQ4>(static_cast<int>(std::min(tile, T - t0)), data, nblocks, xq + t0 * nblocks,
                               out + t0 * ldy, ldy);
  };
  // Up to this many activation rows, 2 groups (T = 1: 4) are read side by side: more streams in
  // flight per core. Measured on supra-1b (2 threads, decode tok/s, one group → side by side):
  // q4 T = 1 24-25 → 32-33 (4 groups), q8 16-17 → 20-21; T = 2: q4 +20%, q8 +7-15%; T = 8: q8
  // 90 → 103, q4 128 → 120 (hence 4 for Q4_0).
  constexpr std::int64_t kSideBySideRows = kQ4 ? 4 : kLaneTile;
  const std::int64_t whole_end = std::min(r1, grouped);
  std::int64_t r = r0;
  while (r < whole_end) {
    const std::int64_t g = r - r % kLaneRows, end = std::min(r1, g + kLaneRows);
    const std::byte* data = w.data + static_cast<std::size_t>(g) * w.row_bytes();
    if (r == g && T == 1 && g + 4 * kLaneRows <= whole_end) {
      lanes16_group_avx512<kQ4, 1, 4>(data, nblocks, xq, y + g, w.rows);
      r = g + 4 * kLaneRows;
    } else if (r == g && !amx && T <= kSideBySideRows && g + 2 * kLaneRows <= whole_end) {
      with_tile<kLaneTile>(static_cast<int>(T), [&](auto n) {
        lanes16_group_avx512<kQ4, decltype(n)::value, 2>(data, nblocks, xq, y + g, w.rows);
      });
      r = g + 2 * kLaneRows;
    } else if (r == g && end == g + kLaneRows) {
      group(g, y + g, w.rows);
      r = end;
    } else {
      thread_local std::vector<float> whole;
      whole.resize(static_cast<std::size_t>(T * kLaneRows));
      group(g, whole.data(), kLaneRows);
      for (std::int64_t t = 0; t < T; ++t)
        std::copy(whole.data() + t * kLaneRows + (r - g), whole.data() + t * kLaneRows + (end - g), y + t * w.rows + r);
      r = end;
    }
  }
  for (; r < r1; ++r) quant_row_tiles_avx2<kQ4>(block_row(w, r), nblocks, xq, T, y + r, w.rows);
}

HWY_POP_ATTRIBUTES

HWY_PUSH_ATTRIBUTES("avx512vnni,avx512bf16")

// y[t·ldy + i] = Σ_c w_i[c]·x_t[c] for R consecutive BF16 rows (w, cols apart) and NT rows of
// bf16 activations (xb, cols apart): vdpbf16ps, 32 products per instruction, float sums.
template <int R, int NT>
void bf16_rows_avx512(const std::uint16_t* w, std::int64_t cols, const std::uint16_t* xb, float* y, std::int64_t ldy) {
  __m512 acc[R][NT];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < NT; ++t) acc[r][t] = _mm512_setzero_ps();
  auto step = [&](std::int64_t c, __mmask32 mask) {
    __m512i x[NT];
    for (int t = 0; t < NT; ++t) x[t] = _mm512_maskz_loadu_epi16(mask, xb + t * cols + c);
    for (int r = 0; r < R; ++r) {
      const std::uint16_t* wr = w + r * cols + c;
      _mm_prefetch(reinterpret_cast<const char*>(wr + 512), _MM_HINT_T0);  // 1 KiB ahead, row ends included
      const __m512i wv = _mm512_maskz_loadu_epi16(mask, wr);
      for (int t = 0; t < NT; ++t)
        acc[r][t] = _mm512_dpbf16_ps(acc[r][t], reinterpret_cast<const __m512bh&>(wv), reinterpret_cast<const __m512bh&>(x[t]));
    }
  };
  std::int64_t c = 0;
  for (; c + 32 <= cols; c += 32) step(c, ~__mmask32{0});
  if (c < cols) step(c, static_cast<__mmask32>((1u << (cols - c)) - 1));
  for (int t = 0; t < NT; ++t)
    for (int r = 0; r < R; ++r) y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
}

template <int R>
void bf16_tile_avx512(int nt, const std::uint16_t* w, std::int64_t cols, const std::uint16_t* xb, float* y,
                      std::int64_t ldy) {
  with_tile<R == 4 ? 4 : kVnniMaxTile>(nt, [&](auto n) { bf16_rows_avx512<R, decltype(n)::value>(w, cols, xb, y, ldy); });
}

// Rounds n floats to bf16 (nearest even: vcvtneps2bf16, as f32_to_bf16 and the GEMM's reorder).
void round_to_bf16_avx512(std::uint16_t* out, const float* x, std::int64_t n) {
  auto round = [&](std::int64_t i, __mmask16 mask) {
    const __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + i));
    _mm256_mask_storeu_epi16(out + i, mask, reinterpret_cast<const __m256i&>(v));
  };
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) round(i, 0xFFFF);
  if (i < n) round(i, static_cast<__mmask16>((1u << (n - i)) - 1));
}

// All T activation rows, rounded to bf16 once per matmul call (xb, prepare_rows_avx512), against
// rows [r0, r1) of a BF16 matrix.
void bf16_rows_range_avx512(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const std::uint16_t* xb,
                            std::int64_t T) {
  const std::int64_t cols = w.cols;
  const auto* weights = reinterpret_cast<const std::uint16_t*>(w.data);
  const int R = rows_per_pass_avx512(T), first = first_tile_avx512(T);
  auto pass = [&](std::int64_t r, int rows) {
    for (std::int64_t t0 = 0; t0 < T; t0 += first) {
      const int nt = static_cast<int>(std::min<std::int64_t>(first, T - t0));
      const std::uint16_t* wr = weights + r * cols;
      const std::uint16_t* xt = xb + t0 * cols;
      float* yt = y + t0 * w.rows + r;
      if (rows == 4) bf16_tile_avx512<4>(nt, wr, cols, xt, yt, w.rows);
      else if (rows == 2) bf16_tile_avx512<2>(nt, wr, cols, xt, yt, w.rows);
      else bf16_tile_avx512<1>(nt, wr, cols, xt, yt, w.rows);
    }
  };
  std::int64_t r = r0;
  for (; r + R <= r1; r += R) pass(r, R);
  for (; r < r1; ++r) pass(r, 1);
}

HWY_POP_ATTRIBUTES

HWY_PUSH_ATTRIBUTES("avx512vnni,avx512bf16")

// Rows [g, g + 16) of a Lanes16 matrix (g a group's first row) decoded to bf16 rows at out
// (cols apart): the prefill GEMM's panel. Per 64 code bytes (4 of each row's values), four
// quarters of 4 rows are widened to float, scaled by their rows' scales and rounded to bf16
// (nearest even, as decode_rows_bf16), 8 bytes a row into a block of 16 rows × 32 values in L1;
// then each row's 64 bytes go to the panel in one store. (Stored 8 bytes at a time straight to
// the panel, whose rows are 4 KiB apart for 2048 columns and so share one L1 set, each line was
// evicted between its 8 pieces: the decode took a quarter of a q8 prefill.)
template <bool kQ4>
void lanes16_group_to_bf16_avx512(std::uint16_t* out, const Matrix& w, std::int64_t g) {
  const std::int64_t nblocks = w.cols / kQuantBlock, cols = w.cols;
  const std::byte* group = w.data + static_cast<std::size_t>(g) * w.row_bytes();
  constexpr std::size_t kBlockBytes = kLaneRows * (kQ4 ? kQ4_0BlockBytes : kQ8_0BlockBytes);
  __m512i quarter_scales[4];  // lane 4j + c of quarter q: the scale of row 4q + j
  for (int q = 0; q < 4; ++q) {
    alignas(64) std::int32_t idx[16];
    for (int l = 0; l < 16; ++l) idx[l] = 4 * q + l / 4;
    quarter_scales[q] = _mm512_load_si512(idx);
  }
  alignas(64) std::uint16_t decoded[kLaneRows][kQuantBlock];  // one block of the 16 rows
  // Codes of 16 rows × 4 values as signed bytes, to the block's columns c..c + 3.
  auto decode = [&](__m512i codes, __m512 dw, std::int64_t c) {
    alignas(64) std::int8_t bytes[64];  // the quarters through memory: extracts want immediates
    _mm512_store_si512(bytes, codes);
    for (int q = 0; q < 4; ++q) {
      const __m128i quarter = _mm_load_si128(reinterpret_cast<const __m128i*>(bytes + 16 * q));
      const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(quarter)),
                                     _mm512_permutexvar_ps(quarter_scales[q], dw));
      const __m256bh b = _mm512_cvtneps_pbh(v);
      const __m256i bits = reinterpret_cast<const __m256i&>(b);
      const __m128i lo = _mm256_castsi256_si128(bits), hi = _mm256_extracti128_si256(bits, 1);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(&decoded[4 * q][c]), lo);
      _mm_storeh_pd(reinterpret_cast<double*>(&decoded[4 * q + 1][c]), _mm_castsi128_pd(lo));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(&decoded[4 * q + 2][c]), hi);
      _mm_storeh_pd(reinterpret_cast<double*>(&decoded[4 * q + 3][c]), _mm_castsi128_pd(hi));
    }
  };
  for (std::int64_t b = 0; b < nblocks; ++b) {
    const std::byte* block = group + static_cast<std::size_t>(b) * kBlockBytes;
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)));
    if constexpr (kQ4) {
      const __m512i low4 = _mm512_set1_epi8(15), eight = _mm512_set1_epi8(8);
      for (int k = 0; k < 4; ++k) {
        const __m512i v = _mm512_loadu_si512(block + kLaneScalesBytes + 64 * k);
        decode(_mm512_sub_epi8(_mm512_and_si512(v, low4), eight), dw, 4 * k);
        decode(_mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v, 4), low4), eight), dw, 16 + 4 * k);
      }
    } else {
      for (int k = 0; k < 8; ++k)
        decode(_mm512_xor_si512(_mm512_loadu_si512(block + kLaneScalesBytes + 64 * k), _mm512_set1_epi8(char(0x80))),
               dw, 4 * k);
    }
    for (std::int64_t r = 0; r < kLaneRows; ++r)
      _mm512_storeu_si512(out + r * cols + b * kQuantBlock, _mm512_load_si512(decoded[r]));
  }
}

// decode_rows_bf16 on AVX3_DL: true where the rows are one whole Lanes16 group (and the CPU has
// AVX512_BF16), decoded above; false for everything else.
inline bool decode_group_bf16_avx512(std::uint16_t* out, const Matrix& w, std::int64_t r0, std::int64_t r1) {
  if (w.layout != Layout::Lanes16 || !cpu_has_avx512_bf16() || r0 % kLaneRows != 0 || r1 != r0 + kLaneRows ||
      r1 > grouped_rows(w))
    return false;
  w.dtype == DType::Q4_0 ? lanes16_group_to_bf16_avx512<true>(out, w, r0)
                         : lanes16_group_to_bf16_avx512<false>(out, w, r0);
  return true;
}

HWY_POP_ATTRIBUTES

// Whether the kernels above take BF16 weights on this CPU (activations then rounded to bf16).
inline bool bf16_dot_avx512() { return cpu_has_avx512_vnni() && cpu_has_avx512_bf16(); }

// What prepare_rows_avx512 writes per activation row for weights w (0: the kernels read the
// activations as they are).
inline std::size_t prepared_row_bytes_avx512(const Matrix& w) {
  if (!cpu_has_avx512_vnni()) return 0;
  if (w.layout == Layout::Lanes16) return amx_int8_usable() ? static_cast<std::size_t>(w.cols / kQuantBlock) * sizeof(QBlock) : 0;
  if (w.layout != Layout::Plain) return 0;
  if (is_block_quantized(w.dtype)) return static_cast<std::size_t>((w.cols / kQuantBlock + 1) / 2) * sizeof(XPair);
  if (w.dtype == DType::BF16 && bf16_dot_avx512()) return static_cast<std::size_t>(w.cols) * sizeof(std::uint16_t);
  return 0;
}

// Whether T activation rows meet the Lanes16 matrix w on AMX tiles (prepared for them by
// prepare_rows_avx512); fewer rows, or no AMX, take the VNNI kernels.
inline bool lanes16_on_tiles(const Matrix& w, std::int64_t T) {
  return w.layout == Layout::Lanes16 && T >= kAmxMinRows && prepared_row_bytes_avx512(w) != 0;
}

// The activations of a matmul call in the layout the kernels above read, once per call (every
// thread's dot_rows then reads them): int8 pairs for plain Q8_0/Q4_0, bf16 rows for BF16.
HWY_PUSH_ATTRIBUTES("avx512vnni,avx512bf16")
inline void prepare_rows_avx512(std::byte* out, const Matrix& w, const float* x, const QBlock* xq, std::int64_t T) {
  if (prepared_row_bytes_avx512(w) == 0) return;
  const std::int64_t nblocks = w.cols / kQuantBlock;
  if (w.layout == Layout::Lanes16)
    return lanes16_on_tiles(w, T) ? prepare_amx_rows(out, xq, T, nblocks, w.dtype == DType::Q4_0 ? 8 : 128) : void();
  if (w.dtype == DType::Q8_0) return pack_pairs_avx512<false>(reinterpret_cast<XPair*>(out), xq, T, nblocks);
  if (w.dtype == DType::Q4_0) return pack_pairs_avx512<true>(reinterpret_cast<XPair*>(out), xq, T, nblocks);
  round_to_bf16_avx512(reinterpret_cast<std::uint16_t*>(out), x, T * w.cols);
}
HWY_POP_ATTRIBUTES

// dot_rows on AVX3_DL: true where a kernel above took the call, false for weight types (or a
// CPU) they do not serve. `prepared` holds prepare_rows_avx512's rows.
inline bool dot_rows_avx512(float* y, const Matrix& w, std::int64_t r0, std::int64_t r1, const QBlock* xq,
                            const std::byte* prepared, std::int64_t T) {
  if (!cpu_has_avx512_vnni()) return false;
  if (xq && w.layout == Layout::Lanes16) {
    const std::byte* tiles = lanes16_on_tiles(w, T) ? prepared : nullptr;
    w.dtype == DType::Q4_0 ? lanes16_rows_avx512<true>(y, w, r0, r1, xq, tiles, T)
                           : lanes16_rows_avx512<false>(y, w, r0, r1, xq, tiles, T);
  } else if (xq && w.layout == Layout::Interleaved8) {
    interleaved_rows_avx512(y, w, r0, r1, xq, T);
  } else if (prepared_row_bytes_avx512(w) == 0) {
    return false;
  } else if (w.dtype == DType::Q8_0) {
    quant_rows_plain_avx512<false>(y, w, r0, r1, reinterpret_cast<const XPair*>(prepared), T);
  } else if (w.dtype == DType::Q4_0) {
    quant_rows_plain_avx512<true>(y, w, r0, r1, reinterpret_cast<const XPair*>(prepared), T);
  } else {
    bf16_rows_range_avx512(y, w, r0, r1, reinterpret_cast<const std::uint16_t*>(prepared), T);
  }
  return true;
}
