// matmul, add_bias, copy_row and Matrix::row_slice against naive double loops over the
// *decoded* weights (and the activations as the kernels round them, kernel_check.h), for each
// stored weight type and for odd shapes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel_check.h"
#include "kernels/kernels.h"
#include "supra/error.h"

namespace supra::kernels::test {
namespace {

constexpr DType kWeightTypes[] = {DType::F32, DType::BF16, DType::F16};

std::string type_name(DType t) { return std::string(dtype_name(t)); }

TEST(Matmul, MatchesReferenceForEachWeightType) {
  auto rng = seeded_rng();
  // Rows and columns that are not multiples of any vector width, plus one long row.
  const std::int64_t shapes[][2] = {{1, 1}, {7, 33}, {33, 7}, {65, 130}, {130, 65}};
  for (DType dtype : kWeightTypes)
    for (const auto& shape : shapes)
      for (std::int64_t T : {1, 5}) {
        const std::int64_t rows = shape[0], cols = shape[1];
        const Weights w = make_weights(dtype, rows, cols, random_floats(rng, rows * cols));
        const Floats x(random_floats(rng, T * cols));
        Floats y(T * rows);
        matmul(y.data(), x.data(), w.matrix, T);
        EXPECT_TRUE(close_to(y.span(), matmul_ref(dot_activations(x, dtype).span(), w.decoded, T, rows, cols), kRelTol,
                             "matmul " + type_name(dtype) + " rows=" + std::to_string(rows) +
                                 " cols=" + std::to_string(cols) + " T=" + std::to_string(T),
                             rows));
      }
}

TEST(Matmul, RowSliceIsAViewOfThoseRows) {
  auto rng = seeded_rng();
  const std::int64_t rows = 33, cols = 7, first = 5, count = 11, T = 3;
  for (DType dtype : kWeightTypes) {
    const Weights w = make_weights(dtype, rows, cols, random_floats(rng, rows * cols));
    const Matrix slice = w.matrix.row_slice(first, count);
    EXPECT_EQ(slice.dtype, dtype);
    EXPECT_EQ(slice.rows, count);
    EXPECT_EQ(slice.cols, cols);
    const std::vector<double> slice_ref_w(w.decoded.begin() + first * cols, w.decoded.begin() + (first + count) * cols);
    const Floats x(random_floats(rng, T * cols));
    Floats y(T * count);
    matmul(y.data(), x.data(), slice, T);
    EXPECT_TRUE(close_to(y.span(), matmul_ref(dot_activations(x, dtype).span(), slice_ref_w, T, count, cols), kRelTol,
                         "matmul on row_slice " + type_name(dtype), count));
  }
}

TEST(Matmul, RejectsUnsupportedWeightType) {
  const std::vector<std::byte> bytes(4);
  const Matrix w{DType::I8, 2, 2, bytes.data()};
  float x[2] = {1, 2}, y[2] = {};
  EXPECT_THROW(matmul(y, x, w, 1), Error);
}

TEST(AddBias, AddsToEveryRow) {
  auto rng = seeded_rng();
  for (std::int64_t n : {1, 7, 33, 130}) {
    const std::int64_t T = 3;
    Floats y(random_floats(rng, T * n));
    const Floats bias(random_floats(rng, n));
    std::vector<double> ref(static_cast<std::size_t>(T * n));
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t i = 0; i < n; ++i) ref[t * n + i] = double(y[t * n + i]) + bias[i];
    add_bias(y.data(), bias.data(), T, n);
    // One float addition per element is correctly rounded: the result must be exact.
    EXPECT_TRUE(close_to(y.span(), ref, 0.0, "add_bias n=" + std::to_string(n), n));
  }
}

TEST(CopyRow, DecodesRowExactly) {
  auto rng = seeded_rng();
  const std::int64_t rows = 7, cols = 33;
  for (DType dtype : kWeightTypes) {
    const Weights w = make_weights(dtype, rows, cols, random_floats(rng, rows * cols));
    for (std::int64_t row : {0, 3, 6}) {
      Floats out(cols);
      copy_row(out.data(), w.matrix, row);
      const std::vector<double> ref(w.decoded.begin() + row * cols, w.decoded.begin() + (row + 1) * cols);
      // Widening BF16/F16 to float32 is exact.
      EXPECT_TRUE(close_to(out.span(), ref, 0.0, "copy_row " + type_name(dtype) + " row=" + std::to_string(row)));
    }
  }
}

}  // namespace
}  // namespace supra::kernels::test
