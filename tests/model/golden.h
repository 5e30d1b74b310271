// Access to one golden fixture: the reference tensors of golden.safetensors and the
// schedules of golden.json, produced by the original PyTorch code (tests/data/golden/SOURCES.md).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "supra/checkpoint.h"
#include "supra/model.h"

namespace supra::test {

class Golden {
 public:
  explicit Golden(const std::filesystem::path& dir);

  bool has(const std::string& name) const { return tensors_.has(name); }
  std::vector<float> floats(const std::string& name) const;
  std::vector<std::int64_t> shape(const std::string& name) const;
  // Row `b` of an int64 [B, T] tensor as token ids.
  std::vector<TokenId> ids(const std::string& name, std::int64_t b) const;
  // Slice [b] of a float tensor whose first dimension is the batch.
  std::vector<float> batch_row(const std::string& name, std::int64_t b) const;
  std::vector<int> schedule(const std::string& name) const;

 private:
  Checkpoint tensors_;
  std::filesystem::path json_path_;
};

// [H, T, d] (reference layout per batch row) -> [T, H, d] (supra's layout).
std::vector<float> heads_to_tokens(const std::vector<float>& x, std::int64_t H, std::int64_t T, std::int64_t d);

}  // namespace supra::test
