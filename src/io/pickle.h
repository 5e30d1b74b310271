// A restricted unpickler for the state dicts torch.save writes (pickle protocols 2-5).
// It interprets just the opcodes such a pickle uses and resolves only these globals:
//   collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter,
//   torch.{Float,BFloat16,Half,Double,Long,Int,Short,Char,Byte,Bool}Storage
// Any other global is rejected the moment it is read. Nothing is ever executed: REDUCE of a
// whitelisted function only builds a description of the tensor.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "supra/tensor.h"

namespace supra {

// One tensor of the state dict, as _rebuild_tensor_v2 describes it; the bytes are elsewhere
// (the zip entry "<top>/data/<storage_key>").
struct PickledTensor {
  std::string name;
  DType dtype = DType::F32;  // from the storage class
  std::string storage_key;
  std::int64_t storage_numel = 0;   // elements, as the persistent id says
  std::int64_t storage_offset = 0;  // elements
  std::vector<std::int64_t> size;
  std::vector<std::int64_t> stride;
};

// Unpickles a dict (or OrderedDict) of str -> tensor, in pickle order. `what` names the pickle
// in error messages. Throws supra::Error for anything else: other globals, unknown opcodes,
// malformed or truncated data, a top-level object that is not such a dict.
std::vector<PickledTensor> unpickle_state_dict(std::span<const std::byte> pickle,
                                               const std::string& what);

}  // namespace supra
