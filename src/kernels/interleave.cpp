// The decode layouts of block-quantized matrices (interleave.h).
#include "kernels/interleave.h"

#include <cstring>
#include <vector>

#include "kernels/simd.h"
#include "supra/error.h"

namespace supra::kernels {
namespace {

// Rewrites the whole groups of plain matrix w (`rows` rows each) into `out` one group at a time,
// through a copy of the group's plain rows so that out may alias w.data; `group(plain, out)`
// writes one group. The plain rows after the last group are copied as they are.
template <class WriteGroup>
void rewrite_groups(std::byte* out, const Matrix& w, std::int64_t rows, WriteGroup group) {
  const std::size_t row_bytes = w.row_bytes(), group_bytes = static_cast<std::size_t>(rows) * row_bytes;
  const std::int64_t groups = w.rows / rows;
  const std::size_t tail = static_cast<std::size_t>(w.rows % rows) * row_bytes;
  if (out != w.data) std::memcpy(out + groups * group_bytes, w.data + groups * group_bytes, tail);
#pragma omp parallel
  {
    std::vector<std::byte> plain(group_bytes);
#pragma omp for schedule(static)
    for (std::int64_t g = 0; g < groups; ++g) {
      std::memcpy(plain.data(), w.data + static_cast<std::size_t>(g) * group_bytes, group_bytes);
      group(plain.data(), out + static_cast<std::size_t>(g) * group_bytes);
    }
  }
}

// Q8_0 codes are stored + 128 in Lanes16 (vpdpbusd multiplies unsigned weight bytes).
std::byte lane_code(DType dtype, std::byte plain) {
  return dtype == DType::Q8_0 ? plain ^ std::byte{0x80} : plain;
}

}  // namespace

bool interleavable(const Matrix& w) {
  return w.dtype == DType::Q4_0 && w.rows >= kInterleaveRows && w.layout == Layout::Plain;
}

bool lanes16_able(const Matrix& w) {
  return is_block_quantized(w.dtype) && w.rows >= kLaneRows && w.layout == Layout::Plain;
}

void interleave_q4_0(std::byte* out, const Matrix& w) {
  if (!interleavable(w)) throw Error("interleave_q4_0: needs a plain Q4_0 matrix of at least 8 rows");
  const std::size_t row_bytes = w.row_bytes();
  const std::int64_t nblocks = w.cols / kQuantBlock;
  rewrite_groups(out, w, kInterleaveRows, [&](const std::byte* plain, std::byte* group) {
    for (std::int64_t i = 0; i < kInterleaveRows; ++i)
      for (std::int64_t b = 0; b < nblocks; ++b) {
        const std::byte* from = plain + static_cast<std::size_t>(i) * row_bytes + b * kQ4_0BlockBytes;
        std::byte* to = group + b * kInterleavedBlockBytes;
        std::memcpy(to + interleaved_scale_offset(i), from, 2);
        std::memcpy(to + interleaved_codes_offset(i), from + 2, kQ4_0BlockBytes - 2);
      }
  });
}

void interleave_lanes16(std::byte* out, const Matrix& w) {
  if (!lanes16_able(w)) throw Error("interleave_lanes16: needs a plain Q8_0 or Q4_0 matrix of at least 16 rows");
  const std::size_t row_bytes = w.row_bytes(), bb = dtype_row_bytes(w.dtype, kQuantBlock);
  const std::size_t lane_bytes = lane_block_bytes(w.dtype);
  const std::int64_t nblocks = w.cols / kQuantBlock, ncodes = static_cast<std::int64_t>(bb) - 2;
  rewrite_groups(out, w, kLaneRows, [&](const std::byte* plain, std::byte* group) {
    for (std::int64_t i = 0; i < kLaneRows; ++i)
      for (std::int64_t b = 0; b < nblocks; ++b) {
        const std::byte* from = plain + static_cast<std::size_t>(i) * row_bytes + static_cast<std::size_t>(b) * bb;
        std::byte* to = group + static_cast<std::size_t>(b) * lane_bytes;
        std::memcpy(to + 2 * i, from, 2);
        for (std::int64_t m = 0; m < ncodes; ++m) to[lane_code_offset(i, m)] = lane_code(w.dtype, from[2 + m]);
      }
  });
}

Layout decode_layout(const Matrix& w) {
  if (w.layout != Layout::Plain) return w.layout;
  if (simd::lanes16_kernels() && lanes16_able(w)) return Layout::Lanes16;
  if (interleavable(w)) return Layout::Interleaved8;
  return Layout::Plain;
}

Matrix lay_out_for_decode(std::byte* out, const Matrix& w) {
  const Layout to = decode_layout(w);
  if (to == w.layout) return w;
  if (to == Layout::Lanes16) interleave_lanes16(out, w);
  else interleave_q4_0(out, w);
  Matrix laid = w;
  laid.data = out;
  laid.layout = to;
  return laid;
}

void plain_rows(std::byte* out, const Matrix& w, std::int64_t r0, std::int64_t r1) {
  const std::size_t row_bytes = w.row_bytes(), bb = dtype_row_bytes(w.dtype, kQuantBlock);
  const std::size_t lane_bytes = lane_block_bytes(w.dtype);
  const std::int64_t nblocks = w.cols / kQuantBlock, ncodes = static_cast<std::int64_t>(bb) - 2;
  for (std::int64_t r = r0; r < r1; ++r) {
    std::byte* to = out + static_cast<std::size_t>(r - r0) * row_bytes;
    if (w.layout == Layout::Lanes16 && r < grouped_rows(w)) {
      const std::int64_t i = r % kLaneRows;
      const std::byte* group = w.data + static_cast<std::size_t>(r - i) * row_bytes;
      for (std::int64_t b = 0; b < nblocks; ++b) {
        const std::byte* from = group + static_cast<std::size_t>(b) * lane_bytes;
        std::byte* block = to + static_cast<std::size_t>(b) * bb;
        std::memcpy(block, from + 2 * i, 2);
        for (std::int64_t m = 0; m < ncodes; ++m) block[2 + m] = lane_code(w.dtype, from[lane_code_offset(i, m)]);
      }
    } else {  // plain and Interleaved8 rows: scales and codes where block_row says
      const BlockRow row = block_row(w, r);
      for (std::int64_t b = 0; b < nblocks; ++b) {
        std::memcpy(to + static_cast<std::size_t>(b) * bb, row.scales + b * row.stride, 2);
        std::memcpy(to + static_cast<std::size_t>(b) * bb + 2, row.codes + b * row.stride, bb - 2);
      }
    }
  }
}

}  // namespace supra::kernels
