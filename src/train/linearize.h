// Linearisation (spec §8.1): a softmax teacher (HF Llama/Mistral folder, or an OpenLM softmax
// folder) becomes the initial SUPRA model. Teacher weights are copied under OpenLM names
// (in_proj = cat(q, k, v), w12 = cat(gate, up), w3 = down, ...), and the new kernel layers
// `_totrain_embed{,_kv}.{weight,bias}` get torch's default nn.Linear initialisation,
// U(−1/√fan_in, +1/√fan_in), drawn from the seed.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "supra/checkpoint.h"
#include "supra/config.h"
#include "supra/train.h"  // linearize_folder
#include "train/parameters.h"

namespace supra::train {

// The SUPRA config for a teacher: its shapes with dqk = dv = dh, linear attention, decay on.
// Throws supra::Error when the teacher cannot be linearised (already linear, head_dim ≠ D/H).
ModelConfig linear_config_for(const ModelConfig& teacher);

// config.json text in the published layout (spec §7.1), plus rotary_base_frequency when it is
// not the default.
std::string openlm_config_json(const ModelConfig& config);

// Every tensor of the SUPRA model under its HF-saved OpenLM name ("model.layers.0.attention.in_proj.weight"),
// float32, in the order of the published state dict.
ParameterSet linearize_parameters(const ModelConfig& teacher, const Checkpoint& weights, std::uint64_t seed);

}  // namespace supra::train
