// Parsing and validation of request bodies. Every field is type- and range-checked; anything
// wrong is an ApiError 400 naming the field. OpenAI's fields that would change the output but
// are not implemented (tools, response_format other than text, suffix, ...) are a 400 naming
// them; other unknown fields are ignored, as OpenAI-compatible servers do, because real clients
// (openai SDKs, lm-eval) send extra ones ("user", "metadata", ...).
// JSON null means "not given" (the SDKs send nulls for unset options).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "supra/chat_template.h"
#include "serve/sequence.h"
#include "supra/tokenizer.h"

namespace supra::serve {

struct Limits {
  std::size_t max_body_bytes = 1u << 20;
  std::size_t max_prompt_tokens = 4096;
  int max_tokens = 4096;
  std::size_t max_batch = 16;  // prompts per completion request
};

// The body as a JSON object; 400 "invalid_json" (or invalid UTF-8) otherwise.
nlohmann::json parse_body(const std::string& body);

// A completion or chat request, tokenized. Each prompt becomes one sequence (one choice).
struct GenerationRequest {
  std::vector<std::vector<TokenId>> prompts;
  // Per prompt, its text when it came as text: a state continuation tokenizes it again after
  // the state's ids (continuation.h).
  std::vector<std::optional<std::string>> texts;
  SequenceParams params;  // everything but prompt / base (filled by the route)
  std::optional<std::string> state_id;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with the usage
  int n = 1;                   // choices returned per prompt (params.choices are run: best_of)
};

// POST /v1/completions: prompt as a string, a token-id array, or a batch of either.
GenerationRequest parse_completion(const nlohmann::json& body, const Tokenizer& tokenizer, const Limits& limits);
// POST /v1/chat/completions: messages rendered by the server's chat template.
GenerationRequest parse_chat(const nlohmann::json& body, const Tokenizer& tokenizer, const Limits& limits,
                             const ChatTemplate& chat_template);

// POST /v1/states: {"prompt": string} or {"tokens": [ids]}, optional "state_id".
struct StateRequest {
  std::vector<TokenId> tokens;
  std::optional<std::string> text;  // "prompt", for continuations (continuation.h)
  std::optional<std::string> state_id;
};
StateRequest parse_state_request(const nlohmann::json& body, const Tokenizer& tokenizer, const Limits& limits);

}  // namespace supra::serve
