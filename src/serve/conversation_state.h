// POST /v1/states with "messages": a chat conversation stored as a state (the chat page's "save"),
// so that a chat continuing it (`state_id` plus the messages after it) reads exactly the tokens
// the whole conversation would, sent at once: the conversation is rendered by the server's chat
// template and closed the way that template closes a reply before the next user message.
#pragma once
#include <nlohmann/json.hpp>

#include "supra/chat_template.h"
#include "serve/request.h"
#include "supra/tokenizer.h"

namespace supra::serve {

// {"messages": [...ending with an assistant reply], "state_id"?}: the messages are a chat
// request's (after the state when `state_id` is given). The stored tokens T are what the template
// renders for the conversation followed by a user message U, less what it renders for U alone
// after a state; ApiError 400 when the latter is not an ending of the former (chatml and raw
// tokenize the whole conversation as one text, zephyr glues a newline onto the next turn).
// The caller has seen a non-null "messages".
StateRequest parse_conversation_state(const nlohmann::json& body, const Tokenizer& tokenizer, const Limits& limits,
                                      const ChatTemplate& chat_template);

}  // namespace supra::serve
