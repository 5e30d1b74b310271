#include "serve/chat_template.h"

#include "serve/api_error.h"

namespace supra::serve {

std::vector<TokenId> render_chat(const std::vector<ChatMessage>& messages, const Tokenizer& tokenizer, bool with_bos) {
  std::size_t first = 0;
  std::string system;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    first = 1;
  }
  if (first == messages.size()) throw bad_param("messages", "messages must contain at least one user message");
  std::vector<TokenId> ids;
  if (with_bos) ids.push_back(tokenizer.bos_id());
  const auto append = [&](const std::string& text) {
    const auto part = tokenizer.encode(text, false);
    ids.insert(ids.end(), part.begin(), part.end());
  };
  for (std::size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool user_turn = (i - first) % 2 == 0;
    if (m.role != (user_turn ? "user" : "assistant"))
      throw bad_param("messages", "messages[" + std::to_string(i) + "] must have role \"" +
                                      (user_turn ? "user" : "assistant") +
                                      "\": after an optional system message, user and assistant alternate");
    if (user_turn) {
      const bool with_system = i == first && !system.empty();
      append("[INST] " + (with_system ? system + "\n\n" : std::string()) + m.content + " [/INST]");
    } else {
      append(m.content);
      if (tokenizer.eos_id() >= 0) ids.push_back(tokenizer.eos_id());
    }
  }
  if (messages.back().role != "user") throw bad_param("messages", "the last message must come from the user");
  return ids;
}

}  // namespace supra::serve
