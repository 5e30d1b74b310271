// The interleaved Q4_0 layout that decode reads: rows in groups of 8, block by block.
//
// In a plain Q4_0 matrix each row is its own run of 18-byte blocks, so a kernel that dots 8 rows
// at once reads 8 short streams and gathers 8 scales one by one. Interleaved, block b of a group
// holds the 8 rows' block b in 144 bytes:
//
//   [ 8 f16 scales, rows 0..7 ][ 4 chunks of 32 bytes: chunk k = codes of row k | codes of row k+4 ]
//
// (the 16 code bytes of a row as in Q4_0: byte j holds element j in its low and j+16 in its high
// nibble). A group occupies exactly the bytes of its 8 plain rows, so row r's group starts where
// plain row r − r mod 8 did; rows past the last full group stay plain. One 32-byte load gives two
// rows' codes, one mask and one shift unpack them for both, and the scales of 8 rows are one load.
// Set at load time for inference only (Matrix::interleaved); files always hold plain Q4_0.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/matrix.h"

namespace supra::kernels {

inline constexpr std::int64_t kInterleaveRows = 8;
inline constexpr std::size_t kInterleavedBlockBytes = kInterleaveRows * kQ4_0BlockBytes;  // 144

// Where row i of a group has its scale and its codes inside an interleaved block.
constexpr std::size_t interleaved_scale_offset(std::int64_t i) { return static_cast<std::size_t>(2 * i); }
constexpr std::size_t interleaved_codes_offset(std::int64_t i) {
  return static_cast<std::size_t>(2 * kInterleaveRows + 32 * (i % 4) + 16 * (i / 4));
}

// Where row r's blocks are: block b's f16 scale at scales + b·stride, its 16 code bytes at
// codes + b·stride. Serves plain Q8_0/Q4_0 rows and interleaved ones alike.
struct BlockRow {
  const std::byte* scales;
  const std::byte* codes;
  std::size_t stride;
};

inline BlockRow block_row(const Matrix& w, std::int64_t r) {
  const std::size_t row_bytes = w.row_bytes();
  if (!w.interleaved || r >= w.rows / kInterleaveRows * kInterleaveRows) {
    const std::byte* row = w.data + static_cast<std::size_t>(r) * row_bytes;
    return {row, row + 2, w.dtype == DType::Q4_0 ? kQ4_0BlockBytes : kQ8_0BlockBytes};
  }
  const std::int64_t i = r % kInterleaveRows;
  const std::byte* group = w.data + static_cast<std::size_t>(r - i) * row_bytes;
  return {group + interleaved_scale_offset(i), group + interleaved_codes_offset(i), kInterleavedBlockBytes};
}

// Whether w can take the interleaved layout: Q4_0 with at least one full group of rows.
bool interleavable(const Matrix& w);

// Writes the interleaved form of plain Q4_0 matrix `w` to `out` (w.rows · w.row_bytes() bytes;
// `out` may be w.data itself: groups are rewritten one at a time through a copy).
void interleave_q4_0(std::byte* out, const Matrix& w);

}  // namespace supra::kernels
