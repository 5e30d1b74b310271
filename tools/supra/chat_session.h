// ChatSession: a conversation of `supra chat`, kept in ONE recurrent state. Each turn feeds only
// its new tokens (the template's text between the end of the last reply and the start of the
// next one) after everything the state has consumed; history is never read again, so a turn
// costs the same at message 2 or message 2000 (for SUPRA; a softmax model's KV cache grows).
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "commands.h"
#include "supra/chat_template.h"
#include "supra/stop_strings.h"
#include "supra/generate.h"
#include "supra/model.h"
#include "supra/sampler.h"
#include "supra/state_file.h"
#include "supra/tokenizer.h"

namespace supra::cli {

class ChatSession {
 public:
  // Throws supra::Error when the template cannot be continued turn by turn with this tokenizer.
  ChatSession(const Model& model, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
              std::string system, const GenerationOptions& options, std::vector<std::string> stops);

  // Feeds the user's message, then generates the reply, passing its text to `out` as it comes;
  // the reply ends at an EOS (which the state consumes, as the templates close a reply with
  // it), a stop string, or after options.max_new_tokens.
  struct Turn {
    std::size_t read = 0;       // tokens of the message and template read into the state
    std::size_t generated = 0;  // tokens of the reply
  };
  Turn reply(const std::string& user, const std::function<void(const std::string&)>& out);

  void reset();  // a new conversation: empty state, the next message starts with BOS
  // The conversation so far as a state file (docs/STATE_FORMAT.md), written atomically.
  void save(const std::filesystem::path& path) const;
  // Replaces the conversation with a saved one; on error the current one is kept.
  void load(const std::filesystem::path& path);

  std::size_t tokens() const { return tokens_.size(); }

 private:
  // The tokens that open a turn with `user`, after what the state has consumed.
  std::vector<TokenId> turn_tokens(const std::string& user) const;

  const Model& model_;
  const Tokenizer& tokenizer_;
  const ChatTemplate& template_;
  std::string system_;
  GenerationOptions options_;
  std::vector<std::string> stops_;
  StateCodec codec_;
  Sampler sampler_;
  ContextWarning context_;
  State state_;
  std::vector<TokenId> tokens_;  // every token the state has consumed
};

}  // namespace supra::cli
