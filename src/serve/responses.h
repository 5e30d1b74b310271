// The OpenAI response bodies: completions, chat completions, their streamed chunks, and the
// legacy logprobs block ({tokens, token_logprobs, top_logprobs, text_offset}) that
// lm-evaluation-harness reads.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/sequence.h"
#include "supra/tokenizer.h"

namespace supra::serve {

// Serializes without throwing on bytes that are not UTF-8 (a token may be half a character).
std::string dump(const nlohmann::json& j);

// How a token is shown in "tokens" and as a "top_logprobs" key: its SentencePiece piece with
// the word-boundary mark U+2581 turned into a space ("▁Once" -> " Once"). Unlike decoded text,
// every token has a distinct, non-empty name, which lm-eval's greedy check relies on.
std::string token_name(const Tokenizer& tokenizer, TokenId id);

nlohmann::json logprobs_json(const std::vector<TokenLogprob>& tokens, const Tokenizer& tokenizer);

struct ResponseMeta {
  std::string id;  // "cmpl-..." / "chatcmpl-..."
  std::int64_t created = 0;
  std::string model;
};

struct Choice {
  std::string text;
  std::vector<TokenLogprob> tokens;
  bool with_logprobs = false;
  std::string finish_reason;
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

nlohmann::json completion_body(const ResponseMeta& meta, const std::vector<Choice>& choices, const Tokenizer& tokenizer);
nlohmann::json chat_body(const ResponseMeta& meta, const Choice& choice);

// One streamed chunk; `finish_reason` empty = null (more to come).
nlohmann::json completion_chunk(const ResponseMeta& meta, const std::string& text, const nlohmann::json& logprobs,
                                const std::string& finish_reason);
// The first chat chunk carries the role, later ones content.
nlohmann::json chat_chunk(const ResponseMeta& meta, const std::string& text, bool first, const std::string& finish_reason);

std::string new_response_id(const char* prefix);

}  // namespace supra::serve
