#include "serve/continuation.h"

#include <algorithm>
#include <string>

#include "serve/api_error.h"

namespace supra::serve {

std::vector<TokenId> continuation_ids(const Tokenizer& tokenizer, std::span<const TokenId> stored,
                                      std::string_view text) {
  const bool bos = !stored.empty() && tokenizer.bos_id() >= 0 && stored.front() == tokenizer.bos_id();
  const std::span<const TokenId> words = bos ? stored.subspan(1) : stored;
  const std::string joined = tokenizer.decode({words.begin(), words.end()}) + std::string(text);
  const std::vector<TokenId> all = tokenizer.encode(joined, false);
  if (all.size() > words.size() && std::equal(words.begin(), words.end(), all.begin()))
    return {all.begin() + static_cast<std::ptrdiff_t>(words.size()), all.end()};
  return tokenizer.encode(text, false);
}

std::vector<TokenId> continuation_prompt(const Tokenizer& tokenizer, std::span<const TokenId> stored,
                                         std::string_view text, const char* param, std::size_t max_tokens) {
  std::vector<TokenId> ids = continuation_ids(tokenizer, stored, text);
  if (ids.empty()) throw bad_param(param, std::string("'") + param + "' must not be empty when continuing a state");
  if (ids.size() > max_tokens)
    throw ApiError(400, std::string(param) + " has " + std::to_string(ids.size()) + " tokens; the limit is " +
                            std::to_string(max_tokens),
                   param, "context_length_exceeded");
  return ids;
}

}  // namespace supra::serve
