// Synthetic models: the real shapes of known models (config only, no file) with random weights
// in a chosen storage type, generated in memory in parallel. For benchmarks (`supra bench
// --synthetic`, `supra quantize --synthetic`): speed depends on the shapes and bytes, not on the values.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/weights.h"
#include "supra/config.h"
#include "supra/quantize.h"

namespace supra {

// The config of one of synthetic_names() (supra/quantize.h); throws supra::Error naming the
// known shapes for an unknown name.
ModelConfig synthetic_config(std::string_view name);
// The config.json text of a shape (what synthetic_config parses).
std::string synthetic_config_json(std::string_view name);

struct SyntheticModel {
  ModelConfig config;
  Weights weights;  // matrices point into `buffers`
  std::vector<std::unique_ptr<std::byte[]>> buffers;
};

// Weights of `config`'s shapes in `dtype` (F32, BF16, F16, Q8_0 or Q4_0): random signs and
// mantissas with magnitudes between a/32 and a = 1/√fan_in (block types: random codes with
// scale a/127 or a/8), norm gains 1, biases small. The output projection is stored as
// output_projection_type(dtype), as `supra quantize` stores it.
// Deterministic for a seed. Throws supra::Error for other dtypes or block types on widths that
// are not multiples of 32.
// `Use::Inference` stores Q8_0/Q4_0 matrices in the CPU's decode layout, as a loaded model runs them
// (interleave_for_decode); `Use::File` keeps the file layout, for writing the model out.
enum class SyntheticUse { File, Inference };
SyntheticModel make_synthetic(const ModelConfig& config, DType dtype, SyntheticUse use = SyntheticUse::File,
                              std::uint64_t seed = 1);

}  // namespace supra
