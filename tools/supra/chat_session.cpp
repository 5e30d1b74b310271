#include "chat_session.h"

#include <algorithm>

#include "supra/error.h"

namespace supra::cli {
namespace {


bool is_one_of(TokenId id, const std::vector<TokenId>& ids) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

}  // namespace

ChatSession::ChatSession(const Model& model, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                         std::string system, const GenerationOptions& options, std::vector<std::string> stops)
    : model_(model),
      tokenizer_(tokenizer),
      template_(chat_template),
      system_(std::move(system)),
      options_(options),
      stops_(std::move(stops)),
      codec_(model, tokenizer.vocab_size()),
      sampler_(options.sampling),
      context_(model.config()),
      state_(model.new_state()) {
  // Fails now, not at the second message, when the template cannot be continued.
  tokens_ = {tokenizer_.bos_id()};
  turn_tokens("hello");
  tokens_.clear();
}

// A continued turn is the difference between two renderings of the template: a conversation
// ending in a user message, and the same one extended by an (empty) assistant reply and the
// new user message. That difference is the template's closing of a reply and its opening of
// the next message, whatever the template, without re-reading the real history.
std::vector<TokenId> ChatSession::turn_tokens(const std::string& user) const {
  std::vector<ChatMessage> messages;
  if (!system_.empty()) messages.push_back({"system", system_});
  if (tokens_.empty()) {
    messages.push_back({"user", user});
    return render_chat(template_, messages, tokenizer_, true);
  }
  messages.push_back({"user", "hello"});
  const std::vector<TokenId> before = render_chat(template_, messages, tokenizer_, true);
  messages.push_back({"assistant", ""});
  messages.push_back({"user", user});
  std::vector<TokenId> after = render_chat(template_, messages, tokenizer_, true);
  if (after.size() < before.size() || !std::equal(before.begin(), before.end(), after.begin()))
    throw Error("this chat template does not extend a conversation token by token with this model's tokenizer");
  after.erase(after.begin(), after.begin() + static_cast<std::ptrdiff_t>(before.size()));
  // A reply that ended at EOS has already given the state the EOS that closes it.
  if (!after.empty() && after.front() == tokens_.back() && is_one_of(tokens_.back(), options_.stop_ids))
    after.erase(after.begin());
  return after;
}

ChatSession::Turn ChatSession::reply(const std::string& user, const std::function<void(const std::string&)>& out) {
  const std::vector<TokenId> turn = turn_tokens(user);
  Turn counts{turn.size(), 0};
  // The new message in parallel blocks after the state (a block bounds the activations' memory
  // whatever the length of a line), then the reply one token at a time.
  constexpr std::size_t kBlock = 512;
  std::vector<float> logits;
  for (std::size_t at = 0; at < turn.size(); at += kBlock) {
    const std::size_t n = std::min(kBlock, turn.size() - at);
    const bool last = at + n == turn.size();
    logits = model_.forward(std::span(turn).subspan(at, n), state_, Mode::Parallel,
                            last ? LogitsWanted::Last : LogitsWanted::None);
  }
  tokens_.insert(tokens_.end(), turn.begin(), turn.end());
  context_.check(tokens_.size());
  TextStreamer streamer(tokenizer_);
  StopMatcher stops(stops_);
  for (int i = 0; i < options_.max_new_tokens; ++i) {
    const TokenId next = sampler_.sample(logits, tokens_);
    const bool eos = is_one_of(next, options_.stop_ids);
    if (!eos) out(stops.push(streamer.push(next)));
    const bool last = eos || stops.stopped() || i + 1 == options_.max_new_tokens;
    // Every token goes into the state, the last one too: the next message continues after it.
    logits = model_.forward(std::span(&next, 1), state_, Mode::Recurrent, last ? LogitsWanted::None : LogitsWanted::Last);
    tokens_.push_back(next);
    ++counts.generated;
    context_.check(tokens_.size());
    if (last) break;
  }
  out(stops.push(streamer.flush()) + stops.finish());
  return counts;
}

void ChatSession::reset() {
  state_ = model_.new_state();
  tokens_.clear();
}

void ChatSession::save(const std::filesystem::path& path) const { codec_.save(path, {state_, tokens_, {}}); }

void ChatSession::load(const std::filesystem::path& path) {
  SavedState s = load_state_file(codec_, path, "/load");
  state_ = std::move(s.state);
  tokens_ = std::move(s.tokens);
}

}  // namespace supra::cli
