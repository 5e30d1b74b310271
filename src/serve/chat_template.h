// The chat template: messages -> prompt token ids, Mistral-Instruct style (the format of the
// Mistral models SUPRA is up-trained from):
//
//   <s>[INST] {system}\n\n{user 1} [/INST]{assistant 1}</s>[INST] {user 2} [/INST]
//
// A system message, if any, comes first and is prepended to the first user message (Mistral
// has no system role). Then user and assistant alternate, starting and ending with a user.
// Each segment is tokenized on its own and BOS/EOS are inserted as ids, so text such as "</s>"
// inside a message stays text.
#pragma once
#include <string>
#include <vector>

#include "supra/tokenizer.h"

namespace supra::serve {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

// Throws ApiError (400, param "messages") when the roles do not follow the pattern above.
// `with_bos` is false when the conversation continues a stored state.
std::vector<TokenId> render_chat(const std::vector<ChatMessage>& messages, const Tokenizer& tokenizer, bool with_bos);

}  // namespace supra::serve
