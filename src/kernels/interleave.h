// The layouts decode reads block-quantized weights in (Matrix::layout), made once at load time.
//
// Interleaved8: Q4_0 rows in groups of 8, block by block (the AVX2 kernels).
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
//
// Lanes16: Q8_0 or Q4_0 rows in groups of 16 (the AVX-512 VNNI kernels). Block b of a group:
//
//   [ 16 f16 scales, rows 0..15 ][ code bytes: 64 per group of 4, byte j of row i's group k
//                                  at 64·k + 4·i + j ]
//
// where a row's code bytes are its plain ones (Q8_0: 32 values, stored + 128 as unsigned bytes;
// Q4_0: 16 bytes of two nibbles). A 64-byte load then holds four consecutive code bytes of each
// of the 16 rows, one row per 32-bit lane: vpdpbusd against four activation bytes broadcast to
// every lane accumulates all 16 rows' sums in their own lanes, with no reduction across lanes
// and one convert and one FMA per block for 16 rows. Again a group occupies its plain rows'
// bytes, rows past the last full group stay plain.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/matrix.h"

namespace supra::kernels {

inline constexpr std::int64_t kInterleaveRows = 8;
inline constexpr std::size_t kInterleavedBlockBytes = kInterleaveRows * kQ4_0BlockBytes;  // 144
inline constexpr std::int64_t kLaneRows = 16;
inline constexpr std::size_t kLaneScalesBytes = 2 * kLaneRows;

// Rows per group of w's layout (1 for Plain), and the rows that lie in whole groups.
inline std::int64_t group_rows(const Matrix& w) {
  return w.layout == Layout::Interleaved8 ? kInterleaveRows : w.layout == Layout::Lanes16 ? kLaneRows : 1;
}
inline std::int64_t grouped_rows(const Matrix& w) { return w.rows / group_rows(w) * group_rows(w); }

// Bytes of one block of a Lanes16 group (16 rows' blocks) of Q8_0 or Q4_0 weights.
inline std::size_t lane_block_bytes(DType dtype) {
  return static_cast<std::size_t>(kLaneRows) * dtype_row_bytes(dtype, kQuantBlock);
}
// Where code byte m of row i lies inside a Lanes16 block.
constexpr std::size_t lane_code_offset(std::int64_t i, std::int64_t m) {
  return kLaneScalesBytes + static_cast<std::size_t>(64 * (m / 4) + 4 * i + m % 4);
}

// Where row i of a group has its scale and its codes inside an interleaved block.
constexpr std::size_t interleaved_scale_offset(std::int64_t i) { return static_cast<std::size_t>(2 * i); }
constexpr std::size_t interleaved_codes_offset(std::int64_t i) {
  return static_cast<std::size_t>(2 * kInterleaveRows + 32 * (i % 4) + 16 * (i / 4));
}

// Where row r's blocks are: block b's f16 scale at scales + b·stride, its code bytes at
// codes + b·stride. Serves plain Q8_0/Q4_0 rows and Interleaved8 ones alike; of a Lanes16
// matrix only the plain rows after the last group (plain_rows() copies out the others).
struct BlockRow {
  const std::byte* scales;
  const std::byte* codes;
  std::size_t stride;
};

inline BlockRow block_row(const Matrix& w, std::int64_t r) {
  const std::size_t row_bytes = w.row_bytes();
  if (w.layout == Layout::Plain || r >= grouped_rows(w)) {
    const std::byte* row = w.data + static_cast<std::size_t>(r) * row_bytes;
    return {row, row + 2, w.dtype == DType::Q4_0 ? kQ4_0BlockBytes : kQ8_0BlockBytes};
  }
  const std::int64_t i = r % kInterleaveRows;
  const std::byte* group = w.data + static_cast<std::size_t>(r - i) * row_bytes;
  return {group + interleaved_scale_offset(i), group + interleaved_codes_offset(i), kInterleavedBlockBytes};
}

// Whether w can take the Interleaved8 layout: plain Q4_0 with at least one full group of rows.
bool interleavable(const Matrix& w);

// Writes the Interleaved8 form of plain Q4_0 matrix `w` to `out` (w.rows · w.row_bytes() bytes;
// `out` may be w.data itself: groups are rewritten one at a time through a copy).
void interleave_q4_0(std::byte* out, const Matrix& w);

// The Lanes16 twins of the two above: plain Q8_0 or Q4_0 with at least 16 rows.
bool lanes16_able(const Matrix& w);
void interleave_lanes16(std::byte* out, const Matrix& w);

// The layout the decode kernels of the current target (and CPU) read weights like w in best:
// Lanes16 for Q8_0/Q4_0 on AVX-512 VNNI, Interleaved8 for Q4_0 elsewhere, else Plain.
Layout decode_layout(const Matrix& w);

// Rewrites plain w into decode_layout(w) at `out` (as interleave_q4_0; may be w.data) and
// returns the matrix there, or returns w as it is when Plain serves.
Matrix lay_out_for_decode(std::byte* out, const Matrix& w);

// Rows [r0, r1) of Q8_0/Q4_0 matrix w, whatever its layout, as plain rows at out
// ((r1 − r0) · w.row_bytes() bytes).
void plain_rows(std::byte* out, const Matrix& w, std::int64_t r0, std::int64_t r1);

}  // namespace supra::kernels
