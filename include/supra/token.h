// TokenId: a token's index in the vocabulary, the one type the model, the sampler and the
// tokenizer share (so the model's API needs no tokenizer).
#pragma once
#include <cstdint>

namespace supra {

using TokenId = std::int32_t;

}  // namespace supra
