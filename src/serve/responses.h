// The OpenAI response bodies: completions, chat completions, their streamed chunks, the usage
// chunk of `stream_options.include_usage`, the legacy logprobs block ({tokens, token_logprobs,
// top_logprobs, text_offset}) that lm-evaluation-harness reads, and chat's logprobs
// ({content: [{token, logprob, bytes, top_logprobs}]}). Bodies keep their fields in insertion
// order (ordered_json): a top_logprobs object lists its tokens most likely first, as OpenAI's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/sequence.h"
#include "serve/token_text.h"
#include "supra/tokenizer.h"

namespace supra::serve {

using ojson = nlohmann::ordered_json;

// Serializes without throwing on bytes that are not UTF-8 (a token may be half a character).
std::string dump(const nlohmann::json& j);
std::string dump(const ojson& j);

// A token's SentencePiece piece with the word-boundary mark U+2581 turned into a space
// ("▁Once" -> " Once"): distinct for every token (the /tokenize listing).
std::string token_name(const Tokenizer& tokenizer, TokenId id);

// The legacy block of completions; tokens are named by their text (token_text.h).
ojson logprobs_json(const std::vector<TokenLogprob>& tokens, const TokenTexts& texts);
// Chat's block: {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}.
ojson chat_logprobs_json(const std::vector<TokenLogprob>& tokens, const TokenTexts& texts);

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
  int completion_tokens = 0;
  double logprob_sum = 0;  // of its sampled tokens, when scored (best_of)
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
};

nlohmann::ordered_json usage_json(const Usage& usage);

ojson completion_body(const ResponseMeta& meta, const std::vector<Choice>& choices, const Usage& usage,
                      const TokenTexts& texts);
ojson chat_body(const ResponseMeta& meta, const std::vector<Choice>& choices, const Usage& usage,
                const TokenTexts& texts);

// One streamed chunk of choice `index`; `finish_reason` empty = null (more to come). With
// `usage_field` the chunk has "usage": null, as OpenAI's chunks do when the usage is asked.
ojson completion_chunk(const ResponseMeta& meta, int index, const std::string& text, const ojson& logprobs,
                       const std::string& finish_reason, bool usage_field);
// The first chat chunk of a choice carries the role, later ones content.
ojson chat_chunk(const ResponseMeta& meta, int index, const std::string& text, bool first, const ojson& logprobs,
                 const std::string& finish_reason, bool usage_field);
// The last chunk before [DONE] when `stream_options.include_usage`: "choices": [] and the usage.
ojson usage_chunk(const ResponseMeta& meta, bool chat, const Usage& usage);

std::string new_response_id(const char* prefix);

}  // namespace supra::serve
