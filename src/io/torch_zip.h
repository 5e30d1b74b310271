// torch.save's zip format, read without Python: "<top>/data.pkl" is a pickle of the state
// dict (see pickle.h) and "<top>/data/<key>" holds the raw bytes of each storage, stored
// uncompressed, so tensors are views straight into the mapped archive.
#pragma once
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "io/tensor_file.h"

namespace supra {

// Throws supra::Error for anything but a little-endian torch zip of a state dict of dense,
// contiguous CPU tensors. Nothing in the file is ever executed.
TensorFile open_torch_zip(const std::filesystem::path& path);

// The parsing half of open_torch_zip, on an archive already in memory; `what` names it in
// error messages. Views point into `archive`.
std::vector<TensorView> parse_torch_zip(std::span<const std::byte> archive,
                                        const std::string& what);

}  // namespace supra
