// Chat templates: messages -> prompt token ids. The built-in templates, chosen by name once at
// startup (`supra serve --chat-template NAME` and `supra chat`, like llama.cpp's named templates):
//
//   mistral  <s>[INST] {system}\n\n{user} [/INST]{assistant}</s>[INST] {user} [/INST]   (default:
//            the format of the Mistral models SUPRA is up-trained from; no system role, so the
//            system message is prepended to the first user message)
//   llama2   <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s><s>[INST] {user} [/INST]
//   chatml   <|im_start|>{role}\n{content}<|im_end|>\n per message, then <|im_start|>assistant\n
//   zephyr   <|system|>\n{system}</s>\n<|user|>\n{user}</s>\n<|assistant|>\n{assistant}</s>\n ... <|assistant|>\n
//   raw      the contents joined with "\n" (base models)
//
// Every template takes the same conversations: an optional system message, then user and
// assistant alternating, starting with a user. A conversation ending with an assistant message
// asks to continue it (assistant prefill): that message is rendered without its end-of-turn
// marker (mistral, zephyr: no </s>; llama2: "[INST] u [/INST] a" without " </s>"; chatml: no
// <|im_end|>\n; raw: as always) and no new assistant header follows, so the model goes on
// with the message's text. Text is tokenized in segments and
// <s>/</s> are inserted as BOS/EOS ids, so text typed in a message (even "</s>") never becomes a
// special id; the chatml and zephyr markers are plain text for SentencePiece models. Templates
// without <s> in their format start as a completion prompt does (BOS when the tokenizer adds one).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "supra/error.h"
#include "supra/tokenizer.h"

namespace supra {

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

struct ChatTemplate;  // one built-in template (chat_template.cpp)

// The built-in template called `name`; throws supra::Error naming the known ones otherwise.
const ChatTemplate& find_chat_template(std::string_view name);
// "mistral, llama2, chatml, zephyr, raw", for help texts.
std::string chat_template_names();

// A conversation whose roles do not follow the pattern above (the server answers it with a 400).
class InvalidChat : public Error {
 public:
  using Error::Error;
};

// Throws InvalidChat when the roles do not follow the pattern above.
// `with_bos` is false when the conversation continues a stored state.
std::vector<TokenId> render_chat(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                                 const Tokenizer& tokenizer, bool with_bos);

}  // namespace supra
