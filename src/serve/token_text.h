// TokenTexts: the text each token adds to a returned text, which is what the logprobs blocks
// name it by ("tokens", the keys of "top_logprobs", chat's "token"), so that the names of a
// choice's tokens, concatenated, are its text (OpenAI clients rely on that, e.g. with
// text_offset). A SentencePiece piece is its text with U+2581 as a space, except:
//   - at the start of the text (no text before it in the sequence), where SentencePiece drops
//     the dummy-prefix space: "▁Once" is "Once" there and " Once" anywhere else;
//   - control and unknown pieces (<s>, </s>, <unk>) add no text: "" (the decoded text drops them);
//   - a byte-fallback piece <0xNN> is that byte; one byte of a multi-byte character is not
//     UTF-8 on its own, and JSON shows it as U+FFFD (OpenAI writes "bytes:\xNN" there).
// Names can therefore repeat (a byte and the one-letter piece of the same character, or the
// control pieces); a top_logprobs object keeps the first (the more likely) of equal names.
#pragma once
#include <string>
#include <vector>

#include "supra/tokenizer.h"

namespace supra::serve {

class TokenTexts {
 public:
  explicit TokenTexts(const Tokenizer& tokenizer);
  // The text of `id`; `starts_text` when no text comes before it in its sequence.
  std::string text(TokenId id, bool starts_text) const;

 private:
  std::vector<std::string> texts_;  // by id, in the middle of a text
};

}  // namespace supra::serve
