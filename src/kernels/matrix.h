// Matrix: a read-only weight matrix in its stored element type, as kernels consume it.
// Row-major [rows, cols]; `data` points into a mapped checkpoint or an owned buffer and
// is aligned for the element type. New storage formats (quantized blocks) become new
// DType values here and new branches in the matmul kernel; the model never looks inside.
#pragma once
#include <cstddef>
#include <cstdint>

#include "supra/error.h"
#include "supra/tensor.h"

namespace supra::kernels {

// How the rows of a block-quantized matrix lie in memory (kernels/interleave.h). Files always
// hold Plain rows; the others are made at load time for the decode kernels of the CPU.
enum class Layout : std::uint8_t {
  Plain,         // row after row
  Interleaved8,  // Q4_0 rows in groups of 8, block by block (the AVX2 kernels)
  Lanes16,       // Q8_0/Q4_0 rows in groups of 16, one row per 32-bit lane (the AVX-512 VNNI kernels)
};

struct Matrix {
  DType dtype = DType::F32;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  const std::byte* data = nullptr;
  Layout layout = Layout::Plain;

  bool empty() const { return data == nullptr; }
  std::size_t row_bytes() const { return dtype_row_bytes(dtype, cols); }
  // Rows [first, first + count) as a matrix of their own (a view, no copy). Matrices are
  // sliced before they are interleaved (an interleaved group spans 8 or 16 rows).
  Matrix row_slice(std::int64_t first, std::int64_t count) const {
    if (layout != Layout::Plain) throw Error("row_slice: an interleaved matrix cannot be sliced");
    return Matrix{dtype, count, cols, data + static_cast<std::size_t>(first) * row_bytes()};
  }
};

}  // namespace supra::kernels
