// Matrix views and the interleaved Q4_0 layout (interleave.h).
#include "kernels/interleave.h"

#include <cstring>
#include <vector>

#include "supra/error.h"

namespace supra::kernels {

bool interleavable(const Matrix& w) { return w.dtype == DType::Q4_0 && w.rows >= kInterleaveRows && !w.interleaved; }

void interleave_q4_0(std::byte* out, const Matrix& w) {
  if (!interleavable(w)) throw Error("interleave_q4_0: needs a plain Q4_0 matrix of at least 8 rows");
  const std::size_t row_bytes = w.row_bytes(), group_bytes = kInterleaveRows * row_bytes;
  const std::int64_t nblocks = w.cols / kQuantBlock, groups = w.rows / kInterleaveRows;
  const std::size_t tail = static_cast<std::size_t>(w.rows % kInterleaveRows) * row_bytes;
  if (out != w.data) std::memcpy(out + groups * group_bytes, w.data + groups * group_bytes, tail);
#pragma omp parallel
  {
    std::vector<std::byte> plain(group_bytes);  // the group's rows, so that out may alias w.data
#pragma omp for schedule(static)
    for (std::int64_t g = 0; g < groups; ++g) {
      std::memcpy(plain.data(), w.data + static_cast<std::size_t>(g) * group_bytes, group_bytes);
      std::byte* group = out + static_cast<std::size_t>(g) * group_bytes;
      for (std::int64_t i = 0; i < kInterleaveRows; ++i)
        for (std::int64_t b = 0; b < nblocks; ++b) {
          const std::byte* from = plain.data() + static_cast<std::size_t>(i) * row_bytes + b * kQ4_0BlockBytes;
          std::byte* to = group + b * kInterleavedBlockBytes;
          std::memcpy(to + interleaved_scale_offset(i), from, 2);
          std::memcpy(to + interleaved_codes_offset(i), from + 2, kQ4_0BlockBytes - 2);
        }
    }
  }
}

}  // namespace supra::kernels
