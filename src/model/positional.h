// Position-dependent constants derived from the config: rotary frequencies (spec §3.5) and
// per-head decay slopes (spec §3.6).
#pragma once
#include <vector>

#include "supra/config.h"

namespace supra {

// inv_freq[i] = 1 / (scale · base^(2i/dh)), i < dh/2, computed in float32 like the reference.
std::vector<float> rotary_inv_freq(const ModelConfig& config);

// λ_h for each query head h (float32, as the reference stores them); all zero without decay.
std::vector<float> decay_slopes(const ModelConfig& config);

}  // namespace supra
