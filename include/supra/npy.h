// NumPy .npy files (format version 1.0) of float32, for dumping tensors to compare with
// Python: np.load reads what write_npy_f32 writes.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

namespace supra {

// Writes a C-order '<f4' array of the given shape (numel = product of shape, taken from
// `data`) atomically. A header is padded with spaces and ends in '\n' so that the data
// starts at a multiple of 64 bytes, as NumPy does.
void write_npy_f32(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
                   const float* data);

struct NpyF32 {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

// Reads a C-order '<f4' .npy (versions 1.0 and 2.0); anything else is a supra::Error.
NpyF32 read_npy_f32(const std::filesystem::path& path);

}  // namespace supra
