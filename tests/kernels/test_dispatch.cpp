// The dispatched kernels on EVERY Highway target this CPU supports (each forced in turn):
// matmul for each weight dtype (float types against the decoded-weight reference; Q8_0/Q4_0
// against a scalar twin of the integer scheme, and loosely against the float reference), on the
// dot-product path (T < kGemmMinTokens, every T for the types the decode kernels specialize)
// and the GEMM path, odd sizes; copy_row of block types; the vectorized recurrent step against
// its formula.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "kernels/kernels.h"
#include "kernels/simd.h"

namespace supra::kernels::test {
namespace {

// Restores the CPU's own target choice when a test ends, even on failure.
struct ForcedTarget {
  explicit ForcedTarget(std::int64_t target) { simd::force_target(target); }
  ~ForcedTarget() { simd::force_target(0); }
  ForcedTarget(const ForcedTarget&) = delete;
  ForcedTarget& operator=(const ForcedTarget&) = delete;
};

double f16_value(std::uint16_t bits) {
  const int e = (bits >> 10) & 0x1F, m = bits & 0x3FF;
  const double v = e == 0 ? std::ldexp(double(m), -24) : std::ldexp(1.0 + m / 1024.0, e - 15);
  return (bits & 0x8000u) ? -v : v;
}

// Q8_0 / Q4_0 weights built here from the format definition in supra/tensor.h, with the values
// they decode to.
struct QuantWeights {
  Matrix matrix;
  std::vector<double> decoded;
  std::vector<std::byte> storage;
};

QuantWeights quantize_weights(DType dtype, std::int64_t rows, std::int64_t cols, const std::vector<float>& values) {
  const bool q4 = dtype == DType::Q4_0;
  const std::size_t block_bytes = q4 ? kQ4_0BlockBytes : kQ8_0BlockBytes;
  const std::int64_t nb = cols / kQuantBlock;
  QuantWeights w;
  w.storage.resize(static_cast<std::size_t>(rows * nb) * block_bytes + 1);
  std::byte* base = w.storage.data() + 1;  // odd address: nothing may assume alignment
  w.decoded.resize(static_cast<std::size_t>(rows * cols));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t b = 0; b < nb; ++b) {
      const float* x = &values[static_cast<std::size_t>(r * cols + b * kQuantBlock)];
      float amax = 0;
      for (int i = 0; i < kQuantBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
      const std::uint16_t dbits = f32_to_f16(amax / (q4 ? 8.0f : 127.0f));
      const double d = f16_value(dbits);
      std::byte* blk = base + static_cast<std::size_t>(r * nb + b) * block_bytes;
      std::memcpy(blk, &dbits, 2);
      auto* qs = reinterpret_cast<std::uint8_t*>(blk + 2);
      if (q4) std::fill(qs, qs + 16, std::uint8_t{0});
      for (int i = 0; i < kQuantBlock; ++i) {
        const int lim = q4 ? 7 : 127;
        const int q = d > 0 ? std::clamp(int(std::nearbyint(x[i] / d)), q4 ? -8 : -127, lim) : 0;
        if (q4)
          qs[i % 16] = std::uint8_t(qs[i % 16] | ((q + 8) << (i < 16 ? 0 : 4)));
        else
          qs[i] = std::uint8_t(std::int8_t(q));
        w.decoded[static_cast<std::size_t>(r * cols + b * kQuantBlock + i)] = d * q;
      }
    }
  w.matrix = Matrix{dtype, rows, cols, base};
  return w;
}

// Copies of plain Q8_0/Q4_0 matrix w in each decode layout it can take (Q4_0 Interleaved8,
// Lanes16 from 16 rows), kept alive by `storage`.
std::vector<Matrix> decode_layouts(const Matrix& w, std::vector<std::vector<std::byte>>& storage) {
  std::vector<Matrix> out;
  const std::size_t bytes = w.row_bytes() * static_cast<std::size_t>(w.rows);
  auto add = [&](Layout layout, void (*lay_out)(std::byte*, const Matrix&)) {
    std::vector<std::byte>& buffer = storage.emplace_back(bytes);
    lay_out(buffer.data(), w);
    Matrix m = w;
    m.data = buffer.data();
    m.layout = layout;
    out.push_back(m);
  };
  if (interleavable(w)) add(Layout::Interleaved8, interleave_q4_0);
  if (lanes16_able(w)) add(Layout::Lanes16, interleave_lanes16);
  return out;
}

// y = x · wᵀ for quantized w through dot_rows over row ranges of 5, which start and end inside
// the groups of a decode layout.
Floats dot_rows_in_ranges_of_5(const Matrix& w, const Floats& x, std::int64_t T) {
  std::vector<simd::QBlock> xq(static_cast<std::size_t>(T * w.cols / kQuantBlock));
  simd::quantize_activations(xq.data(), x.data(), T, w.cols);
  simd::PreparedRows prepared;
  simd::prepare_rows(prepared, w, nullptr, xq.data(), T);
  Floats y(T * w.rows);
  for (std::int64_t r0 = 0; r0 < w.rows; r0 += 5)
    simd::dot_rows(y.data(), w, r0, std::min(w.rows, r0 + 5), nullptr, xq.data(), T, prepared.data());
  return y;
}

const char* layout_name(Layout layout) {
  return layout == Layout::Plain ? "plain" : layout == Layout::Interleaved8 ? "interleaved8" : "lanes16";
}

// The integer scheme in double: activations quantized per 32-block (d = max|x|/127,
// q = round(x · 127/max|x|)), then Σ_blocks d_w d_x Σ q_w q_x.
std::vector<double> quant_twin(const Floats& x, const std::vector<double>& w, std::int64_t T, std::int64_t rows,
                               std::int64_t cols) {
  std::vector<double> xq(static_cast<std::size_t>(T * cols));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t b = 0; b < cols / kQuantBlock; ++b) {
      const float* xb = x.data() + t * cols + b * kQuantBlock;
      float m = 0;
      for (int i = 0; i < kQuantBlock; ++i) m = std::max(m, std::fabs(xb[i]));
      const float inv = m > 0 ? 127.0f / m : 0.0f;
      for (int i = 0; i < kQuantBlock; ++i)
        xq[static_cast<std::size_t>(t * cols + b * kQuantBlock + i)] =
            double(m / 127.0f) * std::nearbyint(double(xb[i] * inv));
    }
  std::vector<double> y(static_cast<std::size_t>(T * rows));
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (std::int64_t c = 0; c < cols; ++c) s += xq[t * cols + c] * w[r * cols + c];
      y[t * rows + r] = s;
    }
  return y;
}

std::string label(const std::string& what, std::int64_t target, std::int64_t rows, std::int64_t cols,
                  std::int64_t T) {
  return what + " on " + simd::target_name(target) + " rows=" + std::to_string(rows) + " cols=" +
         std::to_string(cols) + " T=" + std::to_string(T);
}

TEST(Dispatch, SomeTargetIsAvailable) { EXPECT_FALSE(simd::available_targets().empty()); }

TEST(Dispatch, FloatMatmulOnEveryTarget) {
  auto rng = seeded_rng();
  const std::int64_t shapes[][2] = {{1, 1}, {7, 33}, {33, 7}, {37, 259}};
  for (std::int64_t target : simd::available_targets()) {
    ForcedTarget forced(target);
    for (DType dtype : {DType::F32, DType::BF16, DType::F16})
      for (const auto& shape : shapes)
        for (std::int64_t T : {std::int64_t{1}, std::int64_t{3}, std::int64_t{6}, kGemmMinTokens + 1}) {
          const std::int64_t rows = shape[0], cols = shape[1];
          const Weights w = make_weights(dtype, rows, cols, random_floats(rng, rows * cols));
          const Floats x(random_floats(rng, T * cols));
          Floats y(T * rows);
          matmul(y.data(), x.data(), w.matrix, T);
          const bool gemm = T >= kGemmMinTokens;
          EXPECT_TRUE(close_to(y.span(),
                               gemm ? matmul_ref(gemm_activations(x, dtype).span(), gemm_weights(w.decoded, dtype), T, rows, cols)
                                    : matmul_ref(dot_activations(x, dtype).span(), w.decoded, T, rows, cols),
                               kRelTol, label("matmul " + std::string(dtype_name(dtype)), target, rows, cols, T), rows));
        }
  }
}

// y against the product with float activations: int8 activation blocks (d = max|x_b| / 127,
// rounded to nearest) move each x by at most d/2, so each output moves by at most
// Σ_b d_b/2 · Σ_{i∈b} |w_i| (plus float rounding).
void expect_within_activation_rounding(std::span<const float> y, std::span<const float> x,
                                       const std::vector<double>& w, std::int64_t T, std::int64_t rows,
                                       std::int64_t cols, const std::string& what) {
  const std::vector<double> ref = matmul_ref(x, w, T, rows, cols);
  for (std::int64_t t = 0; t < T; ++t)
    for (std::int64_t r = 0; r < rows; ++r) {
      double bound = 1e-5;
      for (std::int64_t b = 0; b < cols / kQuantBlock; ++b) {
        double amax = 0, wsum = 0;
        for (std::int64_t i = b * kQuantBlock; i < (b + 1) * kQuantBlock; ++i) {
          amax = std::max(amax, double(std::fabs(x[static_cast<std::size_t>(t * cols + i)])));
          wsum += std::fabs(w[static_cast<std::size_t>(r * cols + i)]);
        }
        bound += amax / 127 / 2 * wsum;
      }
      const double got = y[static_cast<std::size_t>(t * rows + r)], want = ref[static_cast<std::size_t>(t * rows + r)];
      EXPECT_LE(std::fabs(got - want), bound) << what << " (float activations) t=" << t << " r=" << r;
    }
}

TEST(Dispatch, QuantizedMatmulOnEveryTarget) {
  auto rng = seeded_rng();
  const std::int64_t shapes[][2] = {{1, 32}, {7, 96}, {37, 320}};
  for (std::int64_t target : simd::available_targets()) {
    ForcedTarget forced(target);
    for (DType dtype : {DType::Q8_0, DType::Q4_0})
      for (const auto& shape : shapes)
        for (std::int64_t T : {std::int64_t{1}, std::int64_t{2}, std::int64_t{5}, kGemmMinTokens + 3,
                               kQuantGemmMinTokens + 1}) {
          const std::int64_t rows = shape[0], cols = shape[1];
          const QuantWeights w = quantize_weights(dtype, rows, cols, random_floats(rng, rows * cols));
          const Floats x(random_floats(rng, T * cols));
          Floats y(T * rows);
          matmul(y.data(), x.data(), w.matrix, T);
          const std::string what = label("matmul " + std::string(dtype_name(dtype)), target, rows, cols, T);
          // The GEMM path multiplies the decoded weights with the float activations; the
          // dot-product path quantizes the activations (≈ 1% error against the float result).
          if (T >= gemm_min_tokens(dtype)) {
            EXPECT_TRUE(close_to(y.span(),
                                 matmul_ref(gemm_activations(x, dtype).span(), gemm_weights(w.decoded, dtype), T, rows, cols),
                                 kRelTol, what, rows));
          } else {
            EXPECT_TRUE(close_to(y.span(), quant_twin(x, w.decoded, T, rows, cols), kRelTol, what, rows));
            expect_within_activation_rounding(y.span(), x.span(), w.decoded, T, rows, cols, what);
          }
        }
  }
}

// Q8_0/Q4_0 rows in each decode layout give the plain rows' results on every path (a target
// reads the others' layouts through plain copies): whole groups, plain tail rows (37 = 2 groups
// of 16 + 5, 4 of 8 + 5), thread items and dot_rows ranges that start and end inside a group,
// batched activations and the GEMM's decoded panels.
TEST(Dispatch, InterleavedMatmulOnEveryTarget) {
  auto rng = seeded_rng();
  const std::int64_t shapes[][2] = {{8, 32}, {37, 96}, {203, 320}};
  for (std::int64_t target : simd::available_targets()) {
    ForcedTarget forced(target);
    for (DType dtype : {DType::Q8_0, DType::Q4_0})
      for (const auto& shape : shapes)
        for (std::int64_t T : {std::int64_t{1}, std::int64_t{3}, std::int64_t{4}, std::int64_t{6}, std::int64_t{12},
                               kGemmMinTokens + 3, kQuantGemmMinTokens + 1}) {
          const std::int64_t rows = shape[0], cols = shape[1];
          const QuantWeights plain = quantize_weights(dtype, rows, cols, random_floats(rng, rows * cols));
          const Floats x(random_floats(rng, T * cols));
          Floats want(T * rows);
          matmul(want.data(), x.data(), plain.matrix, T);
          const std::vector<double> want_d(want.span().begin(), want.span().end());
          std::vector<std::vector<std::byte>> storage;
          for (const Matrix& packed : decode_layouts(plain.matrix, storage)) {
            Floats got(T * rows);
            matmul(got.data(), x.data(), packed, T);
            const std::string what = label(std::string(dtype_name(dtype)) + " " + layout_name(packed.layout) + " matmul",
                                           target, rows, cols, T);
            EXPECT_TRUE(close_to(got.span(), want_d, 1e-5, what, rows));
            if (T < kQuantGemmMinTokens) {  // ranges cut inside groups
              EXPECT_TRUE(close_to(dot_rows_in_ranges_of_5(packed, x, T).span(), want_d, 1e-5, what + " in ranges of 5", rows));
            }
          }
        }
  }
}

// Decode and batched decode (T = 1 .. kGemmMinTokens - 1 activation rows, every tile split of
// the multi-row kernels) for each weight type the decode kernels specialize, on every target:
// Q8_0 and Q4_0 against the integer scheme's double twin, plain and in each decode layout (with
// dot_rows ranges cut inside groups), BF16 against the double product of the activations as the target
// rounds them. Shapes: a lone block, an odd number of blocks (a half-filled last block pair),
// row counts that leave partial groups and partial passes, bf16 rows that end inside a vector.
TEST(Dispatch, DecodeSpansOnEveryTarget) {
  auto rng = seeded_rng();
  const std::int64_t quant_shapes[][2] = {{19, 32}, {37, 96}, {70, 352}};
  const std::int64_t bf16_shapes[][2] = {{19, 33}, {37, 97}, {70, 320}};
  for (std::int64_t target : simd::available_targets()) {
    ForcedTarget forced(target);
    for (std::int64_t T = 1; T < kGemmMinTokens; ++T) {
      for (const auto& shape : quant_shapes)
        for (DType dtype : {DType::Q8_0, DType::Q4_0}) {
          const std::int64_t rows = shape[0], cols = shape[1];
          const QuantWeights w = quantize_weights(dtype, rows, cols, random_floats(rng, rows * cols));
          const Floats x(random_floats(rng, T * cols));
          const std::vector<double> want = quant_twin(x, w.decoded, T, rows, cols);
          Floats y(T * rows);
          matmul(y.data(), x.data(), w.matrix, T);
          const std::string what = label("decode " + std::string(dtype_name(dtype)), target, rows, cols, T);
          EXPECT_TRUE(close_to(y.span(), want, kRelTol, what, rows));
          std::vector<std::vector<std::byte>> storage;
          for (const Matrix& packed : decode_layouts(w.matrix, storage)) {
            const std::string how = what + " " + layout_name(packed.layout);
            Floats got(T * rows);
            matmul(got.data(), x.data(), packed, T);
            EXPECT_TRUE(close_to(got.span(), want, kRelTol, how, rows));
            EXPECT_TRUE(close_to(dot_rows_in_ranges_of_5(packed, x, T).span(), want, kRelTol, how + ", ranges of 5", rows));
          }
        }
      for (const auto& shape : bf16_shapes) {
        const std::int64_t rows = shape[0], cols = shape[1];
        const Weights w = make_weights(DType::BF16, rows, cols, random_floats(rng, rows * cols));
        const Floats x(random_floats(rng, T * cols));
        Floats y(T * rows);
        matmul(y.data(), x.data(), w.matrix, T);
        EXPECT_TRUE(close_to(y.span(), matmul_ref(dot_activations(x, DType::BF16).span(), w.decoded, T, rows, cols),
                             kRelTol, label("decode BF16", target, rows, cols, T), rows));
      }
    }
  }
}

// Where the CPU has AVX512_BF16, the AVX3_DL target multiplies BF16 weights in bf16: the
// activations are rounded to nearest even (bf16 steps by 2^-7 above 1: 1 + 2^-8 is a tie and goes
// to 1, 1 + 5·2^-8 a tie that goes to 1 + 2^-6, both down), which weights of 1 make visible.
TEST(Dispatch, Bf16DecodeRoundsActivationsToNearestEven) {
  const std::vector<float> ones(32, 1.0f);
  const Weights w = make_weights(DType::BF16, 1, 32, ones);
  for (std::int64_t target : simd::available_targets()) {
    ForcedTarget forced(target);
    Floats x(32, 0.0f);
    x[0] = 1.0f + 0x1p-8f;
    x[31] = 1.0f + 5 * 0x1p-8f;
    Floats y(1);
    matmul(y.data(), x.data(), w.matrix, 1);
    const double want = simd::dot_rows_in_bf16(DType::BF16) ? 1.0 + (1.0 + 0x1p-6) : double(x[0]) + double(x[31]);
    EXPECT_EQ(double(y[0]), want) << simd::target_name(target);
  }
}

TEST(Dispatch, InterleaveRewritesInPlace) {
  auto rng = seeded_rng();
  const QuantWeights plain = quantize_weights(DType::Q4_0, 19, 64, random_floats(rng, 19 * 64));
  const std::size_t bytes = plain.matrix.row_bytes() * 19;
  std::vector<std::byte> copied(bytes), in_place(plain.matrix.data, plain.matrix.data + bytes);
  interleave_q4_0(copied.data(), plain.matrix);
  Matrix same = plain.matrix;
  same.data = in_place.data();
  interleave_q4_0(in_place.data(), same);
  EXPECT_EQ(copied, in_place);
  EXPECT_FALSE(interleavable(Matrix{DType::Q4_0, 7, 64, plain.matrix.data}));
  EXPECT_FALSE(interleavable(Matrix{DType::Q8_0, 16, 64, plain.matrix.data}));
  Matrix packed = same;
  packed.layout = Layout::Interleaved8;
  EXPECT_THROW(packed.row_slice(8, 8), Error);
  EXPECT_FALSE(interleavable(packed));
}

// Lanes16 in place equals Lanes16 into a copy, and plain_rows gives back the plain bytes.
TEST(Dispatch, Lanes16RewritesInPlaceAndBack) {
  auto rng = seeded_rng();
  for (DType dtype : {DType::Q8_0, DType::Q4_0}) {
    const std::int64_t rows = 37, cols = 96;
    const QuantWeights plain = quantize_weights(dtype, rows, cols, random_floats(rng, rows * cols));
    const std::size_t bytes = plain.matrix.row_bytes() * rows;
    std::vector<std::byte> copied(bytes), in_place(plain.matrix.data, plain.matrix.data + bytes), back(bytes);
    interleave_lanes16(copied.data(), plain.matrix);
    Matrix same = plain.matrix;
    same.data = in_place.data();
    interleave_lanes16(in_place.data(), same);
    EXPECT_EQ(copied, in_place) << dtype_name(dtype);
    EXPECT_NE(copied, std::vector<std::byte>(plain.matrix.data, plain.matrix.data + bytes)) << dtype_name(dtype);
    same.layout = Layout::Lanes16;
    plain_rows(back.data(), same, 0, rows);
    EXPECT_EQ(back, std::vector<std::byte>(plain.matrix.data, plain.matrix.data + bytes)) << dtype_name(dtype);
    EXPECT_FALSE(lanes16_able(same));
    EXPECT_FALSE(lanes16_able(Matrix{dtype, 15, cols, plain.matrix.data}));
    EXPECT_THROW(same.row_slice(0, 16), Error);
  }
}

TEST(Dispatch, CopyRowDecodesBlockTypes) {
  auto rng = seeded_rng();
  const std::int64_t rows = 5, cols = 96;
  for (std::int64_t target : simd::available_targets()) {
    ForcedTarget forced(target);
    for (DType dtype : {DType::Q8_0, DType::Q4_0}) {
      const QuantWeights w = quantize_weights(dtype, rows, cols, random_floats(rng, rows * cols));
      Floats out(cols);
      copy_row(out.data(), w.matrix, 3);
      const std::vector<double> want(w.decoded.begin() + 3 * cols, w.decoded.begin() + 4 * cols);
      EXPECT_TRUE(close_to(out.span(), want, 1e-7, label("copy_row " + std::string(dtype_name(dtype)), target, rows, cols, 1)));
    }
    const std::int64_t n = 19;  // whole groups and plain rows after them
    for (DType dtype : {DType::Q8_0, DType::Q4_0}) {
      const QuantWeights plain = quantize_weights(dtype, n, cols, random_floats(rng, n * cols));
      std::vector<std::vector<std::byte>> storage;
      for (const Matrix& packed : decode_layouts(plain.matrix, storage))
        for (std::int64_t r = 0; r < n; ++r) {
          Floats out(cols);
          copy_row(out.data(), packed, r);
          const std::vector<double> want(plain.decoded.begin() + r * cols, plain.decoded.begin() + (r + 1) * cols);
          EXPECT_TRUE(close_to(out.span(), want, 1e-7,
                               label("copy_row " + std::string(dtype_name(dtype)) + " " + layout_name(packed.layout),
                                     target, n, cols, 1) + " row " + std::to_string(r)));
        }
    }
  }
}

// The prefill's bf16 panels: the rows of every decode layout, group by group as gemm() asks
// for them, bit for bit the plain rows decoded and rounded (the AVX-512 BF16 group decoder
// against the generic one), on every target.
TEST(Dispatch, Bf16PanelsOfEveryLayoutEqualThePlainRows) {
  auto rng = seeded_rng();
  const std::int64_t rows = 37, cols = 2048 + 96;  // rows 4 KiB+ apart, and a group cut by the end
  for (std::int64_t target : simd::available_targets()) {
    ForcedTarget forced(target);
    for (DType dtype : {DType::Q8_0, DType::Q4_0}) {
      const QuantWeights plain = quantize_weights(dtype, rows, cols, random_floats(rng, rows * cols));
      std::vector<std::uint16_t> want(static_cast<std::size_t>(rows * cols));
      simd::decode_rows_bf16(want.data(), plain.matrix, 0, rows);
      std::vector<std::vector<std::byte>> storage;
      for (const Matrix& packed : decode_layouts(plain.matrix, storage)) {
        std::vector<std::uint16_t> got(want.size());
        for (std::int64_t r = 0; r < rows; r += kLaneRows)
          simd::decode_rows_bf16(got.data() + r * cols, packed, r, std::min(rows, r + kLaneRows));
        EXPECT_EQ(got, want) << label(std::string(dtype_name(dtype)) + " " + layout_name(packed.layout), target, rows,
                                      cols, 1);
      }
    }
  }
}

TEST(Dispatch, RecurrentStepOnEveryTarget) {
  auto rng = seeded_rng();
  for (std::int64_t target : simd::available_targets()) {
    ForcedTarget forced(target);
    for (std::int64_t dqk : {1, 5, 16})
      for (std::int64_t dv : {3, 8, 19}) {
        const std::vector<float> q = random_floats(rng, dqk), k = random_floats(rng, dqk), v = random_floats(rng, dv);
        const std::vector<float> S0 = random_floats(rng, dqk * dv);
        const float gamma = 0.9f, scale = 0.25f;
        Floats S(S0), o(dv);
        linear_attention_step(o.data(), S.data(), q.data(), k.data(), v.data(), dqk, dv, gamma, scale);
        std::vector<double> o_ref(dv, 0.0), S_ref(dqk * dv);
        for (std::int64_t e = 0; e < dqk; ++e)
          for (std::int64_t f = 0; f < dv; ++f) {
            const double u = S0[e * dv + f] + double(scale) * k[e] * v[f];
            o_ref[f] += q[e] * u;
            S_ref[e * dv + f] = gamma * u;
          }
        EXPECT_TRUE(close_to(o.span(), o_ref, kRelTol, label("step o", target, dqk, dv, 1)));
        EXPECT_TRUE(close_to(S.span(), S_ref, kRelTol, label("step S", target, dqk, dv, 1), dv));
      }
  }
}

}  // namespace
// matmul_rowwise: a row's result does not depend on the rows computed with it (bit for bit),
// for every weight type and target: what makes a batched decode equal to the sequence alone.
TEST(Dispatch, RowwiseMatmulRowsDoNotDependOnTheirBatch) {
  auto rng = seeded_rng();
  const std::int64_t rows = 45, cols = 320, T = 37;  // T over the dot kernels' widest pass
  const Floats x(random_floats(rng, T * cols));
  for (std::int64_t target : simd::available_targets()) {
    ForcedTarget forced(target);
    for (DType dtype : {DType::F32, DType::BF16, DType::F16, DType::Q8_0, DType::Q4_0}) {
      const std::vector<float> values = random_floats(rng, rows * cols);
      const bool blocks = is_block_quantized(dtype);
      const Weights floats = blocks ? Weights{} : make_weights(dtype, rows, cols, values);
      const QuantWeights quantized = blocks ? quantize_weights(dtype, rows, cols, values) : QuantWeights{};
      const Matrix plain = blocks ? quantized.matrix : floats.matrix;
      std::vector<std::vector<std::byte>> storage;
      std::vector<Matrix> layouts = {plain};
      if (blocks)
        for (const Matrix& packed : decode_layouts(plain, storage)) layouts.push_back(packed);
      for (const Matrix& w : layouts) {
        Floats all(T * rows), one(rows);
        matmul_rowwise(all.data(), x.data(), w, T);
        for (std::int64_t t = 0; t < T; ++t) {
          matmul_rowwise(one.data(), x.data() + t * cols, w, 1);
          EXPECT_TRUE(std::equal(one.span().begin(), one.span().end(), all.span().begin() + t * rows))
              << label("rowwise " + std::string(dtype_name(dtype)) + " " + layout_name(w.layout), target, rows, cols, T)
              << " row " << t;
        }
      }
    }
  }
}

// On CPUs with AMX-INT8, Lanes16 groups against 16 or more activation rows go through tile
// multiplies: bit for bit what the VNNI kernels give, whole groups and ranges cut inside them,
// for tile splits of the activation rows (up to 16 a tile) and the rows below the threshold.
TEST(Dispatch, AmxTilesEqualTheVnniKernelsBitForBit) {
  if (!simd::amx_int8_active()) GTEST_SKIP() << "this CPU (or OS) gives no AMX-INT8 tiles";
  auto rng = seeded_rng();
  const std::int64_t rows = 75, cols = 256;  // 4 whole groups and 11 plain rows after them
  for (DType dtype : {DType::Q8_0, DType::Q4_0}) {
    const QuantWeights plain = quantize_weights(dtype, rows, cols, random_floats(rng, rows * cols));
    std::vector<std::vector<std::byte>> storage;
    std::vector<Matrix> layouts = decode_layouts(plain.matrix, storage);
    const Matrix lanes = layouts.back();
    ASSERT_EQ(lanes.layout, Layout::Lanes16);
    for (std::int64_t T : {8, 15, 16, 17, 24, 33, 127}) {
      const Floats x(random_floats(rng, T * cols));
      Floats amx(T * rows), vnni(T * rows);
      matmul_rowwise(amx.data(), x.data(), lanes, T);
      const Floats amx_ranges = dot_rows_in_ranges_of_5(lanes, x, T);
      simd::allow_amx(false);
      matmul_rowwise(vnni.data(), x.data(), lanes, T);
      const Floats vnni_ranges = dot_rows_in_ranges_of_5(lanes, x, T);
      simd::allow_amx(true);
      const std::string what = std::string(dtype_name(dtype)) + " T=" + std::to_string(T);
      EXPECT_TRUE(std::equal(amx.span().begin(), amx.span().end(), vnni.span().begin())) << what;
      EXPECT_TRUE(std::equal(amx_ranges.span().begin(), amx_ranges.span().end(), vnni_ranges.span().begin()))
          << what << " in ranges of 5";
    }
  }
}

}  // namespace supra::kernels::test
