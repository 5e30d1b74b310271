// Continuing a stored state with text (docs/SERVE.md "Continuing a state"). SentencePiece starts
// every text it tokenizes with a word-boundary space, so text tokenized on its own after a state
// cannot attach to the state's last word: "," alone is "▁" ",", whereas "Once upon a time," ends
// in ",". The rule here gives the tokens of the joined text instead, whenever that is possible
// without taking back a token the state has already consumed.
#pragma once
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "supra/tokenizer.h"

namespace supra::serve {

// The ids to run after `stored` (the ids a state has consumed) for the continuation `text`:
// with J = the ids of decode(stored) + text (BOS first when `stored` starts with it), J's ids
// after `stored` when `stored` is a proper prefix of J. Otherwise, when joining re-segments the
// stored ids (text that glues onto a partial last word: "ti" + "me" is one piece "time"), or the
// stored ids are not how their own text tokenizes (a state made from ids), the text is
// tokenized on its own without BOS, as a new word. May be empty (callers refuse that).
std::vector<TokenId> continuation_ids(const Tokenizer& tokenizer, std::span<const TokenId> stored,
                                      std::string_view text);

// continuation_ids for a request's `param`: ApiError 400 when there is nothing to run or more
// than `max_tokens` ids (context_length_exceeded), as for any prompt.
std::vector<TokenId> continuation_prompt(const Tokenizer& tokenizer, std::span<const TokenId> stored,
                                         std::string_view text, const char* param, std::size_t max_tokens);

}  // namespace supra::serve
