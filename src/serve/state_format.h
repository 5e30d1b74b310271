// The binary form of a State for GET /v1/states/{id}/export and POST /v1/states/import
// (documented byte by byte in docs/STATE_FORMAT.md). Import trusts nothing: every field is
// checked against the loaded model and the body length before any allocation.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "supra/model.h"

namespace supra::serve {

// Floats per layer a State of this model holds: a fixed matrix (SUPRA) or per-token keys and
// values (softmax KV cache). Measured from the model itself, so it cannot drift from it.
struct StateShape {
  AttentionKind attention = AttentionKind::Linear;
  std::size_t layers = 0;
  std::size_t matrix = 0;       // SUPRA: H·dqk·dv
  std::size_t key_width = 0;    // softmax: floats per token
  std::size_t value_width = 0;  // softmax: floats per token
  std::size_t logits = 0;       // the model's vocabulary: floats of a state's last logits
};
StateShape measure_state_shape(const Model& model);

// FNV-1a of the model's architecture summary (every config field): states only travel between
// models of identical architecture.
std::uint64_t model_fingerprint(const ModelConfig& config);

std::uint32_t crc32(std::string_view bytes);  // IEEE 802.3 (zlib's crc32)

struct StoredState {
  State state;
  std::vector<TokenId> tokens;  // every token the state has consumed (the repetition-penalty history)
  // The raw logits after the last token (what the state predicts next; empty when unknown, e.g.
  // a version 1 file): echo + logprobs on a continuation scores its first token with them.
  std::vector<float> logits;
};

std::string export_state(const StoredState& s, std::uint64_t fingerprint, const StateShape& shape);
// True when `bytes` is an intact state file (magic, version, checksum) written for a model of
// another attention kind or architecture: a mistake of the operator, not a damaged file.
bool from_another_model(std::string_view bytes, std::uint64_t fingerprint, const StateShape& shape);
// Throws ApiError (400, code "invalid_state") naming the first check that fails.
StoredState import_state(std::string_view bytes, std::uint64_t fingerprint, const StateShape& shape, int vocab_size);

}  // namespace supra::serve
