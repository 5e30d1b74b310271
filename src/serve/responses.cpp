#include "serve/responses.h"

#include <chrono>
#include <cstdio>
#include <random>

namespace supra::serve {

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

std::string token_name(const Tokenizer& tokenizer, TokenId id) {
  std::string piece = tokenizer.piece(id);
  static const std::string kSpaceMark = "\xE2\x96\x81";
  for (std::size_t at = piece.find(kSpaceMark); at != std::string::npos; at = piece.find(kSpaceMark, at + 1))
    piece.replace(at, kSpaceMark.size(), " ");
  return piece;
}

ojson logprobs_json(const std::vector<TokenLogprob>& tokens, const TokenTexts& texts) {
  ojson names = ojson::array(), lps = ojson::array(), tops = ojson::array(), offsets = ojson::array();
  for (const auto& t : tokens) {
    names.push_back(texts.text(t.id, t.starts_text));
    offsets.push_back(t.text_offset);
    if (!t.logprob) {
      lps.push_back(nullptr);
      tops.push_back(nullptr);
      continue;
    }
    lps.push_back(*t.logprob);
    ojson top = ojson::object();
    for (const auto& [id, lp] : t.top) {
      const std::string name = texts.text(id, t.starts_text);
      if (!top.contains(name)) top[name] = lp;  // equal names: the more likely one stays
    }
    tops.push_back(std::move(top));
  }
  return {{"tokens", names}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

namespace {

ojson bytes_of(const std::string& s) {
  ojson out = ojson::array();
  for (unsigned char c : s) out.push_back(c);
  return out;
}

ojson reason(const std::string& r) { return r.empty() ? ojson(nullptr) : ojson(r); }

ojson head(const ResponseMeta& meta, const char* object) {
  return {{"id", meta.id}, {"object", object}, {"created", meta.created}, {"model", meta.model}};
}

}  // namespace

ojson chat_logprobs_json(const std::vector<TokenLogprob>& tokens, const TokenTexts& texts) {
  ojson content = ojson::array();
  for (const auto& t : tokens) {
    const std::string name = texts.text(t.id, t.starts_text);
    ojson top = ojson::array();
    for (const auto& [id, lp] : t.top) {
      const std::string alt = texts.text(id, t.starts_text);
      top.push_back({{"token", alt}, {"logprob", lp}, {"bytes", bytes_of(alt)}});
    }
    content.push_back({{"token", name}, {"logprob", t.logprob.value_or(0.0f)}, {"bytes", bytes_of(name)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

ojson usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

ojson completion_body(const ResponseMeta& meta, const std::vector<Choice>& choices, const Usage& usage,
                      const TokenTexts& texts) {
  ojson list = ojson::array();
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    list.push_back({{"index", i},
                    {"text", c.text},
                    {"logprobs", c.with_logprobs ? logprobs_json(c.tokens, texts) : ojson(nullptr)},
                    {"finish_reason", reason(c.finish_reason)}});
  }
  ojson body = head(meta, "text_completion");
  body["choices"] = std::move(list);
  body["usage"] = usage_json(usage);
  return body;
}

ojson chat_body(const ResponseMeta& meta, const std::vector<Choice>& choices, const Usage& usage,
                const TokenTexts& texts) {
  ojson list = ojson::array();
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    list.push_back({{"index", i},
                    {"message", {{"role", "assistant"}, {"content", c.text}}},
                    {"logprobs", c.with_logprobs ? chat_logprobs_json(c.tokens, texts) : ojson(nullptr)},
                    {"finish_reason", reason(c.finish_reason)}});
  }
  ojson body = head(meta, "chat.completion");
  body["choices"] = std::move(list);
  body["usage"] = usage_json(usage);
  return body;
}

ojson completion_chunk(const ResponseMeta& meta, int index, const std::string& text, const ojson& logprobs,
                       const std::string& finish_reason, bool usage_field) {
  ojson choice = {{"index", index}, {"text", text}, {"logprobs", logprobs}, {"finish_reason", reason(finish_reason)}};
  ojson chunk = head(meta, "text_completion");
  chunk["choices"] = ojson::array({std::move(choice)});
  if (usage_field) chunk["usage"] = nullptr;
  return chunk;
}

ojson chat_chunk(const ResponseMeta& meta, int index, const std::string& text, bool first, const ojson& logprobs,
                 const std::string& finish_reason, bool usage_field) {
  ojson delta = ojson::object();
  if (first) delta["role"] = "assistant";
  if (!text.empty() || (first && finish_reason.empty())) delta["content"] = text;
  ojson choice = {{"index", index}, {"delta", delta}, {"logprobs", logprobs}, {"finish_reason", reason(finish_reason)}};
  ojson chunk = head(meta, "chat.completion.chunk");
  chunk["choices"] = ojson::array({std::move(choice)});
  if (usage_field) chunk["usage"] = nullptr;
  return chunk;
}

ojson usage_chunk(const ResponseMeta& meta, bool chat, const Usage& usage) {
  ojson chunk = head(meta, chat ? "chat.completion.chunk" : "text_completion");
  chunk["choices"] = ojson::array();
  chunk["usage"] = usage_json(usage);
  return chunk;
}

std::string new_response_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%016llx", prefix, static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace supra::serve
