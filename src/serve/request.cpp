#include "serve/request.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "io/json_file.h"
#include "serve/api_error.h"
#include "supra/error.h"

namespace supra::serve {
namespace {

using nlohmann::json;

const json* field(const json& body, const char* name) {
  const auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

ApiError wrong_type(const char* name, const char* expected) {
  return ApiError(400, std::string("'") + name + "' must be " + expected, name, "invalid_type");
}

std::optional<long long> opt_int(const json& body, const char* name, long long lo, long long hi) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) throw wrong_type(name, "an integer");
  // Unsigned values above INT64_MAX do not fit get<long long>; they are out of range anyway.
  if (v->is_number_unsigned() && v->get<unsigned long long>() > static_cast<unsigned long long>(hi))
    throw bad_param(name, std::string("'") + name + "' must be at most " + std::to_string(hi));
  const long long x = v->get<long long>();
  if (x < lo || x > hi)
    throw bad_param(name, std::string("'") + name + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

// "2", "0.5", "1e-05": not std::to_string's "2.000000" in a message meant for people.
std::string shortest(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

std::optional<double> opt_number(const json& body, const char* name, double lo, double hi, bool lo_open = false) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw wrong_type(name, "a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x > hi || (lo_open ? x <= lo : x < lo))
    throw bad_param(name, std::string("'") + name + "' must be in " + (lo_open ? "(" : "[") + shortest(lo) + ", " +
                              shortest(hi) + "]");
  return x;
}

std::optional<bool> opt_bool(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw wrong_type(name, "a boolean");
  return v->get<bool>();
}

std::optional<std::string> opt_string(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw wrong_type(name, "a string");
  return v->get<std::string>();
}

void check_length(const std::vector<TokenId>& ids, const char* param, const Limits& limits) {
  if (ids.size() > limits.max_prompt_tokens)
    throw ApiError(400, std::string(param) + " has " + std::to_string(ids.size()) + " tokens; the limit is " +
                            std::to_string(limits.max_prompt_tokens),
                   param, "context_length_exceeded");
}

std::vector<TokenId> token_array(const json& v, const char* param, const Tokenizer& tokenizer) {
  std::vector<TokenId> ids;
  ids.reserve(v.size());
  for (const auto& t : v) {
    if (!t.is_number_integer()) throw wrong_type(param, "a string or an array of token ids");
    const bool huge = t.is_number_unsigned() && t.get<unsigned long long>() > 0x7FFFFFFFull;
    const long long id = huge ? -1 : t.get<long long>();
    if (id < 0 || id >= tokenizer.vocab_size())
      throw bad_param(param, "token id " + quote_json(t) + " is outside the vocabulary [0, " +
                                 std::to_string(tokenizer.vocab_size()) + ")");
    ids.push_back(static_cast<TokenId>(id));
  }
  if (ids.empty()) throw bad_param(param, std::string("'") + param + "' must not be an empty token array");
  return ids;
}

// Text prompt -> ids. A fresh sequence starts with BOS (the tokenizer's add_bos); a
// continuation of a state must bring at least one token of its own.
std::vector<TokenId> text_prompt(const std::string& text, const char* param, const Tokenizer& tokenizer, bool fresh) {
  std::vector<TokenId> ids = tokenizer.encode(text, fresh);
  if (fresh && ids.empty()) ids = {tokenizer.bos_id()};
  if (ids.empty()) throw bad_param(param, std::string("'") + param + "' must not be empty when continuing a state");
  return ids;
}

std::vector<std::vector<TokenId>> parse_prompts(const json& body, const Tokenizer& tokenizer, const Limits& limits,
                                                bool fresh, std::vector<std::optional<std::string>>& texts) {
  const json* p = field(body, "prompt");
  if (!p) throw ApiError(400, "'prompt' is required", "prompt", "missing_field");
  std::vector<std::vector<TokenId>> prompts;
  if (p->is_string()) {
    prompts.push_back(text_prompt(p->get<std::string>(), "prompt", tokenizer, fresh));
    texts.push_back(p->get<std::string>());
  } else if (p->is_array() && !p->empty() && (p->front().is_string() || p->front().is_array())) {
    if (p->size() > limits.max_batch)
      throw bad_param("prompt", "at most " + std::to_string(limits.max_batch) + " prompts per request");
    for (const auto& item : *p) {
      if (item.is_string())
        prompts.push_back(text_prompt(item.get<std::string>(), "prompt", tokenizer, fresh));
      else if (item.is_array())
        prompts.push_back(token_array(item, "prompt", tokenizer));
      else
        throw wrong_type("prompt", "a string, an array of token ids, or an array of those");
      texts.push_back(item.is_string() ? std::optional(item.get<std::string>()) : std::nullopt);
    }
  } else if (p->is_array()) {
    prompts.push_back(token_array(*p, "prompt", tokenizer));
    texts.push_back(std::nullopt);
  } else {
    throw wrong_type("prompt", "a string, an array of token ids, or an array of those");
  }
  for (const auto& ids : prompts) check_length(ids, "prompt", limits);
  return prompts;
}

std::vector<std::string> parse_stop(const json& body) {
  const json* v = field(body, "stop");
  if (!v) return {};
  std::vector<std::string> stops;
  if (v->is_string()) {
    stops.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    if (v->size() > 4) throw bad_param("stop", "at most 4 stop strings");
    for (const auto& s : *v) {
      if (!s.is_string()) throw wrong_type("stop", "a string or an array of strings");
      stops.push_back(s.get<std::string>());
    }
  } else {
    throw wrong_type("stop", "a string or an array of strings");
  }
  for (const auto& s : stops)
    if (s.empty() || s.size() > 256) throw bad_param("stop", "stop strings must have 1 to 256 bytes");
  return stops;
}

// OpenAI's logit_bias: {"token id": bias in [-100, 100]}, ids within the vocabulary.
std::vector<std::pair<TokenId, float>> parse_logit_bias(const json& body, const Tokenizer& tokenizer) {
  const json* v = field(body, "logit_bias");
  if (!v) return {};
  if (!v->is_object()) throw wrong_type("logit_bias", "an object mapping token ids to numbers");
  std::vector<std::pair<TokenId, float>> bias;
  for (const auto& [key, value] : v->items()) {
    const bool digits = !key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos;
    const long long id = digits ? std::stoll(key) : -1;
    if (id < 0 || id >= tokenizer.vocab_size())
      throw bad_param("logit_bias", "logit_bias key " + quote_json(json(key)) + " is not a token id in [0, " +
                                        std::to_string(tokenizer.vocab_size()) + ")");
    if (!value.is_number()) throw wrong_type("logit_bias", "an object mapping token ids to numbers");
    const double b = value.get<double>();
    if (!(b >= -100 && b <= 100)) throw bad_param("logit_bias", "logit_bias values must be in [-100, 100]");
    bias.emplace_back(static_cast<TokenId>(id), static_cast<float>(b));
  }
  return bias;
}

// A field of OpenAI's (or of a server's extension) that this server does not implement: a 400
// naming it rather than a 200 that ignores it. `neutral` tells the values that ask nothing.
void reject_unless(const json& body, const char* name, const char* what, bool (*neutral)(const json&)) {
  const json* v = field(body, name);
  if (v && !neutral(*v)) throw bad_param(name, std::string("'") + name + "' is not supported: " + what);
}

bool never(const json&) { return false; }
bool empty_or_false(const json& v) {
  return v.is_string() ? v.get_ref<const std::string&>().empty() : v.is_array() ? v.empty() : v == json(false);
}

// Fields that change what is generated but are not implemented. Harmless fields the SDKs and
// lm-eval send (user, metadata, store, service_tier, ...) stay accepted, and unknown ones are
// ignored (docs/SERVE.md lists both).
void reject_unsupported(const json& body, bool chat) {
  reject_unless(body, "response_format", "the output is plain text (only {\"type\": \"text\"})",
                [](const json& v) { return v == json{{"type", "text"}}; });
  for (const char* name : {"grammar", "json_schema", "guided_json", "guided_regex", "guided_choice", "guided_grammar"})
    reject_unless(body, name, "constrained decoding is not implemented", never);
  if (!chat) {
    reject_unless(body, "suffix", "insertion (a text after the completion) is not implemented", empty_or_false);
    return;
  }
  reject_unless(body, "tools", "tool calling is not implemented", empty_or_false);
  reject_unless(body, "functions", "function calling is not implemented", empty_or_false);
  reject_unless(body, "tool_choice", "tool calling is not implemented (only \"none\")",
                [](const json& v) { return v == json("none"); });
  reject_unless(body, "function_call", "function calling is not implemented (only \"none\")",
                [](const json& v) { return v == json("none"); });
  reject_unless(body, "parallel_tool_calls", "tool calling is not implemented", never);
  reject_unless(body, "audio", "the output is text", never);
  reject_unless(body, "modalities", "the output is text (only [\"text\"])",
                [](const json& v) { return v == json::array({"text"}); });
  reject_unless(body, "prediction", "predicted outputs are not implemented", never);
  reject_unless(body, "reasoning_effort", "this model does not reason separately", never);
  reject_unless(body, "web_search_options", "web search is not implemented", never);
}

constexpr long long kMaxChoices = 16;  // n and best_of

// The fields completions and chat share: sampling, stop, stream, seed, state_id, n.
GenerationRequest parse_common(const json& body, const Tokenizer& tokenizer, const Limits& limits,
                               int default_max_tokens) {
  GenerationRequest r;
  if (const json* m = field(body, "model"); m && !m->is_string()) throw wrong_type("model", "a string");
  r.n = static_cast<int>(opt_int(body, "n", 1, kMaxChoices).value_or(1));
  r.params.choices = r.n;
  SequenceParams& p = r.params;
  p.max_tokens = static_cast<int>(opt_int(body, "max_tokens", 0, limits.max_tokens).value_or(default_max_tokens));
  auto& s = p.sampling;
  s.temperature = static_cast<float>(opt_number(body, "temperature", 0, 2).value_or(1.0));
  s.top_p = static_cast<float>(opt_number(body, "top_p", 0, 1, true).value_or(1.0));
  // top_k is not OpenAI's; off unless asked (-1 and 0 both mean off, as in vLLM and HF).
  s.top_k = static_cast<int>(std::max(0LL, opt_int(body, "top_k", -1, 1'000'000).value_or(0)));
  s.repetition_penalty = static_cast<float>(opt_number(body, "repetition_penalty", 0, 10, true).value_or(1.0));
  s.min_p = static_cast<float>(opt_number(body, "min_p", 0, 1).value_or(0.0));
  s.frequency_penalty = static_cast<float>(opt_number(body, "frequency_penalty", -2, 2).value_or(0.0));
  s.presence_penalty = static_cast<float>(opt_number(body, "presence_penalty", -2, 2).value_or(0.0));
  s.logit_bias = parse_logit_bias(body, tokenizer);
  // Without a seed every request gets a fresh one; with one, the output is reproducible.
  const auto seed = opt_int(body, "seed", std::numeric_limits<long long>::min(), std::numeric_limits<long long>::max());
  s.seed = seed ? static_cast<std::uint64_t>(*seed) : std::random_device{}();
  p.stop = parse_stop(body);
  r.stream = opt_bool(body, "stream").value_or(false);
  if (const json* so = field(body, "stream_options")) {
    if (!r.stream) throw bad_param("stream_options", "'stream_options' is only allowed when 'stream' is true");
    if (!so->is_object()) throw wrong_type("stream_options", "an object");
    r.include_usage = opt_bool(*so, "include_usage").value_or(false);
  }
  r.state_id = opt_string(body, "state_id");
  return r;
}

// n choices of each prompt fill n batch entries: n x prompts stays within the batch cap.
void check_choice_count(const GenerationRequest& r, const Limits& limits) {
  if (static_cast<std::size_t>(r.params.choices) * r.prompts.size() > limits.max_batch)
    throw bad_param(r.params.choices > r.n ? "best_of" : "n",
                    "at most " + std::to_string(limits.max_batch) + " choices per request (n or best_of times prompts)");
}

}  // namespace

json parse_body(const std::string& body) {
  // Nesting is limited before parsing: a megabyte of "[" would otherwise recurse through
  // nlohmann's copies and dumps of the value.
  try {
    check_json_depth(body, "the request body");
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "", "invalid_json");
  }
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number overflow
    const std::string what = e.what();
    if (what.find("UTF-8") != std::string::npos)
      throw ApiError(400, "the request body is not valid UTF-8", "", "invalid_utf8");
    throw ApiError(400, "the request body is not valid JSON: " + what, "", "invalid_json");
  }
  if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_json");
  return j;
}

GenerationRequest parse_completion(const json& body, const Tokenizer& tokenizer, const Limits& limits) {
  reject_unsupported(body, false);
  GenerationRequest r = parse_common(body, tokenizer, limits, 16);  // OpenAI's default max_tokens
  r.params.echo = opt_bool(body, "echo").value_or(false);
  r.params.logprobs = static_cast<int>(opt_int(body, "logprobs", 0, 20).value_or(-1));
  // best_of: that many choices run, and the n with the highest mean logprob per token are returned.
  if (const auto best_of = opt_int(body, "best_of", 1, kMaxChoices)) {
    if (*best_of < r.n) throw bad_param("best_of", "'best_of' must be at least 'n'");
    if (*best_of > r.n && r.stream) throw bad_param("best_of", "'best_of' greater than 'n' cannot be streamed");
    r.params.choices = static_cast<int>(*best_of);
    r.params.score_choices = *best_of > r.n;
  }
  r.prompts = parse_prompts(body, tokenizer, limits, !r.state_id, r.texts);
  if (r.stream && r.prompts.size() > 1) throw bad_param("stream", "streaming takes a single prompt");
  check_choice_count(r, limits);
  return r;
}

GenerationRequest parse_chat(const json& body, const Tokenizer& tokenizer, const Limits& limits,
                             const ChatTemplate& chat_template) {
  reject_unsupported(body, true);
  GenerationRequest r = parse_common(body, tokenizer, limits, std::min(limits.max_tokens, 256));
  if (auto m = opt_int(body, "max_completion_tokens", 0, limits.max_tokens)) r.params.max_tokens = static_cast<int>(*m);
  // Chat's logprobs: a boolean, with top_logprobs (0-20) alternatives per token.
  const bool logprobs = opt_bool(body, "logprobs").value_or(false);
  const auto top = opt_int(body, "top_logprobs", 0, 20);
  if (top && !logprobs) throw bad_param("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  r.params.logprobs = logprobs ? static_cast<int>(top.value_or(0)) : -1;
  const json* msgs = field(body, "messages");
  if (!msgs) throw ApiError(400, "'messages' is required", "messages", "missing_field");
  if (!msgs->is_array() || msgs->empty()) throw wrong_type("messages", "a non-empty array");
  std::vector<ChatMessage> messages;
  for (const auto& m : *msgs) {
    if (!m.is_object()) throw wrong_type("messages", "an array of objects");
    const std::string at = "messages[" + std::to_string(messages.size()) + "]";
    const auto role = opt_string(m, "role");
    if (!role) throw bad_param("messages", at + " needs a role: system, developer, user or assistant");
    if (*role != "system" && *role != "developer" && *role != "user" && *role != "assistant")
      throw bad_param("messages", at + ": role " + quote_json(json(*role)) +
                                      " is not supported (supported: system, developer, user, assistant)");
    const auto calls = [&](const char* name) { const json* v = field(m, name); return v && !(v->is_array() && v->empty()); };
    if (calls("tool_calls") || calls("function_call"))
      throw bad_param("messages", at + ": tool and function calls are not supported");
    // OpenAI's newer name for the system role (o1 and later models); the same here.
    ChatMessage msg{*role == "developer" ? "system" : *role, {}};
    const json* c = field(m, "content");
    if (c && c->is_string()) {
      msg.content = c->get<std::string>();
    } else if (c && c->is_array()) {  // content parts: only text parts are understood
      for (const auto& part : *c) {
        if (!part.is_object() || opt_string(part, "type") != "text" || !opt_string(part, "text"))
          throw bad_param("messages", "only text content parts are supported");
        msg.content += *opt_string(part, "text");
      }
    } else if (c || *role != "assistant") {
      throw wrong_type("messages", "messages whose content is a string or an array of text parts");
    }
    messages.push_back(std::move(msg));
  }
  try {
    r.prompts.push_back(render_chat(chat_template, messages, tokenizer, !r.state_id));
  } catch (const InvalidChat& e) {
    throw bad_param("messages", e.what());
  }
  check_length(r.prompts.back(), "messages", limits);
  check_choice_count(r, limits);
  return r;
}

StateRequest parse_state_request(const json& body, const Tokenizer& tokenizer, const Limits& limits) {
  StateRequest r;
  r.state_id = opt_string(body, "state_id");
  const json* tokens = field(body, "tokens");
  const auto prompt = opt_string(body, "prompt");
  if (tokens && prompt) throw bad_param("prompt", "give either 'prompt' or 'tokens', not both");
  if (tokens) {
    if (!tokens->is_array()) throw wrong_type("tokens", "an array of token ids");
    r.tokens = token_array(*tokens, "tokens", tokenizer);
  } else if (prompt) {
    r.tokens = text_prompt(*prompt, "prompt", tokenizer, !r.state_id);
    r.text = prompt;
  } else {
    throw ApiError(400, "'prompt' or 'tokens' is required", "prompt", "missing_field");
  }
  check_length(r.tokens, r.state_id ? "tokens" : "prompt", limits);
  return r;
}

}  // namespace supra::serve
