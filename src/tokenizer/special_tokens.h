// The special-token settings of an HF model folder, read from its JSON side files.
// Kept apart from the SentencePiece code so that the precedence rules live in one place.
#pragma once
#include <filesystem>
#include <optional>
#include <vector>

#include "supra/tokenizer.h"

namespace supra::tokenizer_detail {

struct SpecialTokens {
  std::optional<TokenId> bos;    // unset: keep the id the SentencePiece model declares
  std::vector<TokenId> eos;      // empty: keep the model's id; HF allows several stop ids
  bool add_bos = true;           // LlamaTokenizer defaults
  bool add_eos = false;
};

// Reads tokenizer_config.json (add_bos_token, add_eos_token), then config.json and
// generation_config.json (bos_token_id, eos_token_id; the later file wins, because
// generation_config is what HF generate stops on). Missing files are skipped; a file
// that is not valid JSON, a field of the wrong type or an id outside [0, vocab_size)
// throws supra::Error naming the file and the field.
SpecialTokens read_special_tokens(const std::filesystem::path& folder, int vocab_size);

}  // namespace supra::tokenizer_detail
