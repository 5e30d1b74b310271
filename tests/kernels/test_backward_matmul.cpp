// The gradients of training products (linear_backward), bias and embedding gradients and
// bf16 rounding against double-precision twins; odd sizes that leave partial row blocks,
// gradients accumulating onto non-zero outputs.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>
#include <string>

#include "finite_difference.h"
#include "kernel_check.h"
#include "kernels/backward.h"
#include "supra/tensor.h"

namespace supra::kernels::test {
namespace {

struct Shape {
  std::int64_t N, out, in;
};
constexpr Shape kShapes[] = {{1, 1, 1}, {5, 7, 13}, {8, 4, 64}, {33, 17, 9}, {130, 65, 31}};

std::string describe(const Shape& s) {
  return "N=" + std::to_string(s.N) + " out=" + std::to_string(s.out) + " in=" + std::to_string(s.in);
}

TEST(LinearTraining, BackwardAccumulatesBothGradients) {
  auto rng = seeded_rng();
  for (const Shape& s : kShapes) {
    const Floats x(random_floats(rng, s.N * s.in)), w(random_floats(rng, s.out * s.in)),
        dy(random_floats(rng, s.N * s.out));
    const std::vector<float> dx0 = random_floats(rng, s.N * s.in), dw0 = random_floats(rng, s.out * s.in);
    Floats dx(dx0), dw(dw0);
    linear_backward(dx.data(), dw.data(), dy.data(), x.data(), w.data(), s.N, s.out, s.in);
    std::vector<double> ref_dx(dx0.begin(), dx0.end()), ref_dw(dw0.begin(), dw0.end());
    for (std::int64_t t = 0; t < s.N; ++t)
      for (std::int64_t o = 0; o < s.out; ++o)
        for (std::int64_t i = 0; i < s.in; ++i) {
          ref_dx[t * s.in + i] += double(dy[t * s.out + o]) * w[o * s.in + i];
          ref_dw[o * s.in + i] += double(dy[t * s.out + o]) * x[t * s.in + i];
        }
    EXPECT_TRUE(close_to(dx.span(), ref_dx, kRelTol, "dx " + describe(s), static_cast<std::size_t>(s.in)));
    EXPECT_TRUE(close_to(dw.span(), ref_dw, kRelTol, "dw " + describe(s), static_cast<std::size_t>(s.in)));

    // Either gradient may be skipped.
    Floats only_dw(dw0);
    linear_backward(nullptr, only_dw.data(), dy.data(), x.data(), w.data(), s.N, s.out, s.in);
    EXPECT_TRUE(close_to(only_dw.span(), ref_dw, kRelTol, "dw alone " + describe(s)));
    Floats only_dx(dx0);
    linear_backward(only_dx.data(), nullptr, dy.data(), x.data(), w.data(), s.N, s.out, s.in);
    EXPECT_TRUE(close_to(only_dx.span(), ref_dx, kRelTol, "dx alone " + describe(s)));
  }
}

TEST(LinearTraining, BiasAndEmbeddingGradients) {
  auto rng = seeded_rng();
  constexpr std::int64_t N = 9, n = 11, V = 6;
  const Floats dy(random_floats(rng, N * n));
  const std::vector<float> b0 = random_floats(rng, n);
  Floats db(b0);
  bias_backward(db.data(), dy.data(), N, n);
  std::vector<double> ref_db(b0.begin(), b0.end());
  for (std::int64_t t = 0; t < N; ++t)
    for (std::int64_t i = 0; i < n; ++i) ref_db[i] += dy[t * n + i];
  EXPECT_TRUE(close_to(db.span(), ref_db, kRelTol, "bias"));

  // Repeated ids sum; rows of absent ids keep their value.
  const std::int32_t ids[N] = {3, 0, 3, 5, 3, 0, 1, 5, 3};
  const std::vector<float> e0 = random_floats(rng, V * n);
  Floats de(e0);
  embedding_backward(de.data(), dy.data(), ids, N, n);
  std::vector<double> ref_de(e0.begin(), e0.end());
  for (std::int64_t t = 0; t < N; ++t)
    for (std::int64_t i = 0; i < n; ++i) ref_de[ids[t] * n + i] += dy[t * n + i];
  EXPECT_TRUE(close_to(de.span(), ref_de, kRelTol, "embedding", n));
  EXPECT_EQ(de[2 * n], e0[2 * n]);
}

TEST(LinearTraining, RoundToBf16IsNearestEven) {
  // 1 + 2^-8 is halfway between two bf16 values (1 and 1 + 2^-7): ties go to the even one, 1.
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: the even one is 1 + 2^-6.
  float x[4] = {1.0f + 1.0f / 256, 1.0f + 3.0f / 256, -2.5f, 1.0f + 1.0f / 128 + 1.0f / 512};
  round_to_bf16(x, 4);
  EXPECT_EQ(x[0], 1.0f);
  EXPECT_EQ(x[1], 1.0f + 1.0f / 64);
  EXPECT_EQ(x[2], -2.5f);
  EXPECT_EQ(x[3], 1.0f + 1.0f / 128);
}

TEST(LinearTraining, RoundToBf16EqualsTheScalarConversionOnEveryKindOfValue) {
  // Random bit patterns (NaNs, infinities, subnormals, values that round up to infinity) and
  // the edges: each as f32_to_bf16 then bf16_to_f32 make it, bit for bit.
  std::mt19937 rng(5);
  std::vector<std::uint32_t> bits = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7F7FFFFFu,
                                     0x7F7F8000u, 0x7FC00000u, 0x7F800001u, 0xFF810000u, 0x00008000u,
                                     0x00018000u, 0x3F808000u, 0x3F818000u};
  for (int i = 0; i < 4096; ++i) bits.push_back(static_cast<std::uint32_t>(rng()));
  std::vector<float> x(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) std::memcpy(&x[i], &bits[i], sizeof(float));
  round_to_bf16(x.data(), static_cast<std::int64_t>(x.size()));
  for (std::size_t i = 0; i < bits.size(); ++i) {
    float in;
    std::memcpy(&in, &bits[i], sizeof(float));
    const float want = bf16_to_f32(f32_to_bf16(in));
    EXPECT_EQ(std::memcmp(&x[i], &want, sizeof(float)), 0) << std::hex << "bits 0x" << bits[i];
  }
}

}  // namespace
}  // namespace supra::kernels::test
