#include "serve/conversation_state.h"

#include <algorithm>

#include "serve/api_error.h"

namespace supra::serve {

using nlohmann::json;

StateRequest parse_conversation_state(const json& body, const Tokenizer& tokenizer, const Limits& limits,
                                      const ChatTemplate& chat_template) {
  for (const char* other : {"prompt", "tokens"})
    if (body.contains(other) && !body[other].is_null())
      throw bad_param(other, "give 'messages', 'prompt' or 'tokens', not several");
  const json& messages = body.at("messages");
  if (!messages.is_array() || messages.empty() || !messages.back().is_object() ||
      messages.back().value("role", json()) != "assistant")
    throw bad_param("messages", "a conversation stored as a state is an array of messages ending with an assistant reply");

  // Which U does not matter where the check below holds: there a user turn is tokens of its own.
  const json next_user = {{"role", "user"}, {"content", "Hello"}};
  json whole = {{"messages", messages}};
  whole["messages"].push_back(next_user);
  // U is rendered as it is after a state (without BOS): parse_chat sees a state_id, any one,
  // and does not look it up.
  json next = {{"messages", json::array({next_user})}, {"state_id", "next"}};
  if (body.contains("state_id") && !body["state_id"].is_null()) whole["state_id"] = body["state_id"];
  const std::vector<TokenId> all = parse_chat(whole, tokenizer, limits, chat_template).prompts.front();
  const std::vector<TokenId> tail = parse_chat(next, tokenizer, limits, chat_template).prompts.front();
  if (tail.size() >= all.size() || !std::equal(tail.rbegin(), tail.rend(), all.rbegin()))
    throw bad_param("messages",
                    "this server's chat template does not give a following user message tokens of its own, so a "
                    "stored conversation would not continue as the whole one reads (mistral and llama2 do)");

  StateRequest r;
  r.tokens.assign(all.begin(), all.end() - static_cast<std::ptrdiff_t>(tail.size()));
  if (whole.contains("state_id")) r.state_id = whole["state_id"].get<std::string>();
  return r;
}

}  // namespace supra::serve
