#include "serve/responses.h"

#include <chrono>
#include <cstdio>
#include <random>

namespace supra::serve {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string token_name(const Tokenizer& tokenizer, TokenId id) {
  std::string piece = tokenizer.piece(id);
  static const std::string kSpaceMark = "\xE2\x96\x81";
  for (std::size_t at = piece.find(kSpaceMark); at != std::string::npos; at = piece.find(kSpaceMark, at + 1))
    piece.replace(at, kSpaceMark.size(), " ");
  return piece;
}

json logprobs_json(const std::vector<TokenLogprob>& tokens, const Tokenizer& tokenizer) {
  json names = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  for (const auto& t : tokens) {
    names.push_back(token_name(tokenizer, t.id));
    offsets.push_back(t.text_offset);
    if (!t.logprob) {
      lps.push_back(nullptr);
      tops.push_back(nullptr);
      continue;
    }
    lps.push_back(*t.logprob);
    json top = json::object();
    for (const auto& [id, lp] : t.top) top[token_name(tokenizer, id)] = lp;
    tops.push_back(std::move(top));
  }
  return {{"tokens", names}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

namespace {

json usage(int prompt, int completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

json reason(const std::string& r) { return r.empty() ? json(nullptr) : json(r); }

}  // namespace

json completion_body(const ResponseMeta& meta, const std::vector<Choice>& choices, const Tokenizer& tokenizer) {
  json list = json::array();
  int prompt = 0, completion = 0;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    list.push_back({{"index", i},
                    {"text", c.text},
                    {"logprobs", c.with_logprobs ? logprobs_json(c.tokens, tokenizer) : json(nullptr)},
                    {"finish_reason", reason(c.finish_reason)}});
    prompt += c.prompt_tokens;
    completion += c.completion_tokens;
  }
  return {{"id", meta.id},           {"object", "text_completion"}, {"created", meta.created},
          {"model", meta.model},     {"choices", list},             {"usage", usage(prompt, completion)}};
}

json chat_body(const ResponseMeta& meta, const Choice& c) {
  json choice = {{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", c.text}}},
                 {"logprobs", nullptr},
                 {"finish_reason", reason(c.finish_reason)}};
  return {{"id", meta.id},       {"object", "chat.completion"}, {"created", meta.created},
          {"model", meta.model}, {"choices", json::array({choice})}, {"usage", usage(c.prompt_tokens, c.completion_tokens)}};
}

json completion_chunk(const ResponseMeta& meta, const std::string& text, const json& logprobs,
                      const std::string& finish_reason) {
  json choice = {{"index", 0}, {"text", text}, {"logprobs", logprobs}, {"finish_reason", reason(finish_reason)}};
  return {{"id", meta.id},       {"object", "text_completion"}, {"created", meta.created},
          {"model", meta.model}, {"choices", json::array({choice})}};
}

json chat_chunk(const ResponseMeta& meta, const std::string& text, bool first, const std::string& finish_reason) {
  json delta = json::object();
  if (first) delta["role"] = "assistant";
  if (!text.empty() || (first && finish_reason.empty())) delta["content"] = text;
  json choice = {{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", reason(finish_reason)}};
  return {{"id", meta.id},       {"object", "chat.completion.chunk"}, {"created", meta.created},
          {"model", meta.model}, {"choices", json::array({choice})}};
}

std::string new_response_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%016llx", prefix, static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace supra::serve
