// A fresh initialisation of every teacher-derived weight, for a from-scratch baseline of the
// same architecture (the up-training experiment compares against it). It follows open_lm's
// Transformer init, the code base SUPRA was trained with: truncated normals (±3σ) with
// σ = 1/√D for the embeddings, the output head, in_proj and w12; out_proj and w3 use
// 1/√fan_in scaled by 1/√(2·(layer+1)); norm gains are 1. The `_totrain_` kernel layers keep
// their nn.Linear default initialisation (open_lm never re-initialises them).
#pragma once
#include <cstdint>

#include "supra/config.h"
#include "train/parameters.h"

namespace supra::train {

void initialize_from_scratch(ParameterSet& params, const ModelConfig& config, std::uint64_t seed);

}  // namespace supra::train
