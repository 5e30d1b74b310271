// State: everything a model remembers about the tokens it has consumed.
//
// For SUPRA layers this is a fixed-size matrix per layer, S ∈ ℝ^{H×dqk×dv} in float32,
// stored "already decayed" exactly as the reference returns it (spec §3.8), so a state
// exported from supra equals the reference's past_key_values. For the softmax teacher it is
// a KV cache that grows with the sequence (post-rotary keys, un-repeated kv heads).
// A State is a plain value: copying it forks the sequence in O(state size).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace supra {

struct LayerState {
  std::vector<float> matrix;  // SUPRA: [H, dqk, dv]
  std::vector<float> keys;    // softmax: [position, Hkv·dqk]
  std::vector<float> values;  // softmax: [position, Hkv·dv]
};

struct State {
  std::int64_t position = 0;  // tokens consumed = rotary offset of the next token
  std::vector<LayerState> layers;

  std::size_t bytes() const {
    std::size_t n = 0;
    for (const auto& l : layers) n += (l.matrix.size() + l.keys.size() + l.values.size()) * sizeof(float);
    return n;
  }
};

}  // namespace supra
