#include "supra/chat_template.h"

#include <span>

#include "supra/error.h"

namespace supra {
namespace {

// A checked conversation: `system` (empty when there is none) and the turns after it, user
// first, alternating, ending with a user, or with an assistant message to continue
// (`prefill`: it is rendered without its end-of-turn marker and no new assistant header
// follows). `all` is every message, for the templates that render the system message like
// any other.
struct Chat {
  std::string system;
  std::span<const ChatMessage> turns;
  std::span<const ChatMessage> all;
  bool prefill = false;
};

// The prompt being built: each text() is tokenized on its own, without special ids.
struct Prompt {
  const Tokenizer& tokenizer;
  std::vector<TokenId> ids;
  void text(const std::string& s) {
    const auto part = tokenizer.encode(s, false);
    ids.insert(ids.end(), part.begin(), part.end());
  }
  void bos() {
    if (tokenizer.bos_id() >= 0) ids.push_back(tokenizer.bos_id());
  }
  void eos() {
    if (tokenizer.eos_id() >= 0) ids.push_back(tokenizer.eos_id());
  }
};

void mistral(const Chat& chat, Prompt& out) {
  for (std::size_t i = 0; i < chat.turns.size(); ++i) {
    const std::string& content = chat.turns[i].content;
    if (i % 2 == 1) {
      out.text(content);
      if (!(chat.prefill && i + 1 == chat.turns.size())) out.eos();
    } else {
      const bool with_system = i == 0 && !chat.system.empty();
      out.text("[INST] " + (with_system ? chat.system + "\n\n" : std::string()) + content + " [/INST]");
    }
  }
}

// Each exchange is one segment, as Meta's reference code tokenizes it: "[INST] u [/INST] a "
// between BOS and EOS.
void llama2(const Chat& chat, Prompt& out) {
  for (std::size_t i = 0; i < chat.turns.size(); i += 2) {
    if (i > 0) out.bos();
    const bool with_system = i == 0 && !chat.system.empty();
    std::string s = "[INST] " + (with_system ? "<<SYS>>\n" + chat.system + "\n<</SYS>>\n\n" : std::string()) +
                    chat.turns[i].content + " [/INST]";
    if (i + 1 == chat.turns.size()) {
      out.text(s);
    } else if (chat.prefill && i + 2 == chat.turns.size()) {
      out.text(s + " " + chat.turns[i + 1].content);
    } else {
      out.text(s + " " + chat.turns[i + 1].content + " ");
      out.eos();
    }
  }
}

// No special ids at all, so one segment: the text a SentencePiece model sees for the whole prompt.
void chatml(const Chat& chat, Prompt& out) {
  std::string s;
  for (const ChatMessage& m : chat.all) s += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (chat.prefill) s.resize(s.size() - std::string_view("<|im_end|>\n").size());
  out.text(chat.prefill ? s : s + "<|im_start|>assistant\n");
}

void zephyr(const Chat& chat, Prompt& out) {
  std::string after_eos;  // the "\n" that follows each </s> opens the next segment
  for (const ChatMessage& m : chat.all) {
    out.text(after_eos + "<|" + m.role + "|>\n" + m.content);
    if (chat.prefill && &m == &chat.all.back()) return;
    out.eos();
    after_eos = "\n";
  }
  out.text(after_eos + "<|assistant|>\n");
}

void raw(const Chat& chat, Prompt& out) {
  std::string s;
  for (std::size_t i = 0; i < chat.all.size(); ++i) s += (i > 0 ? "\n" : "") + chat.all[i].content;
  out.text(s);
}

}  // namespace

struct ChatTemplate {
  std::string_view name;
  bool bos_in_format;  // "<s>" is written in the format; otherwise BOS follows Tokenizer::add_bos
  void (*render)(const Chat&, Prompt&);
};

namespace {

constexpr ChatTemplate kTemplates[] = {
    {"mistral", true, mistral}, {"llama2", true, llama2}, {"chatml", false, chatml},
    {"zephyr", false, zephyr},  {"raw", false, raw},
};

}  // namespace

const ChatTemplate& find_chat_template(std::string_view name) {
  for (const ChatTemplate& t : kTemplates)
    if (t.name == name) return t;
  throw Error("unknown chat template '" + std::string(name) + "' (known: " + chat_template_names() + ")");
}

std::string chat_template_names() {
  std::string names;
  for (const ChatTemplate& t : kTemplates) names += (names.empty() ? "" : ", ") + std::string(t.name);
  return names;
}

std::vector<TokenId> render_chat(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                                 const Tokenizer& tokenizer, bool with_bos) {
  Chat chat;
  chat.all = messages;
  chat.turns = messages;
  if (!messages.empty() && messages[0].role == "system") {
    chat.system = messages[0].content;
    chat.turns = chat.turns.subspan(1);
  }
  if (chat.turns.empty()) throw InvalidChat("messages must contain at least one user message");
  const std::size_t first = messages.size() - chat.turns.size();
  for (std::size_t i = 0; i < chat.turns.size(); ++i) {
    const char* expected = i % 2 == 0 ? "user" : "assistant";
    if (chat.turns[i].role != expected)
      throw InvalidChat("messages[" + std::to_string(first + i) + "] must have role \"" + expected +
                        "\": after an optional system message, user and assistant alternate");
  }
  chat.prefill = messages.back().role == "assistant";

  Prompt out{tokenizer, {}};
  if (with_bos && (tmpl.bos_in_format || tokenizer.add_bos())) out.bos();
  tmpl.render(chat, out);
  return out.ids;
}

}  // namespace supra
