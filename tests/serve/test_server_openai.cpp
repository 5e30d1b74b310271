// OpenAI conformance of requests, sampling and logprobs (issue 18), in-process on the shipped
// model: the usage chunk of stream_options, top_logprobs by probability, logprobs that end with
// a text cut by a stop string, token names that concatenate to the text (echo included), n and
// best_of forked from one prefill (seeded per choice, alone or under load, streamed with
// indexes), min_p / frequency / presence penalties / logit_bias checked against the raw
// logprobs the server reports, chat logprobs, the developer role, refused roles, assistant
// prefill, and a 400 naming every field that is accepted by OpenAI but not implemented here.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "running_server.h"
#include "supra/tokenizer.h"

namespace supra::serve {
namespace {

using test::kModel;
using test::RunningServer;
using json = nlohmann::ordered_json;  // keeps the order of the server's object keys

struct Reply {
  int status = 0;
  std::string body;
  // Parsed once, so references into it live as long as the Reply.
  const json& j() const {
    if (!parsed) parsed = json::parse(body);
    return *parsed;
  }
  mutable std::optional<json> parsed;
};

class OpenAiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions o;
    o.parallel = 4;
    server_ = new RunningServer(o);
    tokenizer_ = new Tokenizer(Tokenizer::load_folder(kModel));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete tokenizer_;
  }

  static Reply post(const std::string& path, const json& body) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(30, 0);
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    if (!r) return {};
    return {r->status, r->body, std::nullopt};
  }

  // The JSON of every "data: {...}" event of a streamed answer, and whether it ended with [DONE]
  // right after them.
  static std::vector<json> events(const std::string& sse, bool* done) {
    std::vector<json> out;
    std::size_t at = 0;
    *done = false;
    while ((at = sse.find("data: ", at)) != std::string::npos) {
      const std::size_t end = sse.find("\n\n", at);
      const std::string data = sse.substr(at + 6, end - at - 6);
      at = end;
      if (data == "[DONE]") {
        *done = sse.find("data: ", at) == std::string::npos;
        break;
      }
      out.push_back(json::parse(data));
    }
    return out;
  }

  // The id whose piece, with U+2581 as a space, is `name` (how the server names a token in the
  // middle of a text), or -1.
  static TokenId id_of(const std::string& name) {
    for (TokenId id = 0; id < tokenizer_->vocab_size(); ++id) {
      std::string piece = tokenizer_->piece(id);
      for (std::size_t at; (at = piece.find("\xE2\x96\x81")) != std::string::npos;) piece.replace(at, 3, " ");
      if (piece == name) return id;
    }
    return -1;
  }

  static std::string joined(const json& names) {
    std::string s;
    for (const auto& n : names) s += n.get<std::string>();
    return s;
  }

  static RunningServer* server_;
  static Tokenizer* tokenizer_;
};

RunningServer* OpenAiTest::server_ = nullptr;
Tokenizer* OpenAiTest::tokenizer_ = nullptr;

// --- Bug 3: stream_options.include_usage --------------------------------------------------

TEST_F(OpenAiTest, StreamWithIncludeUsageEndsWithAUsageChunk) {
  for (const bool chat : {false, true}) {
    json body = {{"max_tokens", 6}, {"temperature", 0}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
    if (chat) body["messages"] = json::array({{{"role", "user"}, {"content", "Hi"}}});
    else body["prompt"] = "Once upon a time";
    const Reply r = post(chat ? "/v1/chat/completions" : "/v1/completions", body);
    ASSERT_EQ(r.status, 200) << r.body;
    bool done = false;
    const std::vector<json> chunks = events(r.body, &done);
    ASSERT_TRUE(done) << r.body;
    ASSERT_GE(chunks.size(), 2u);
    const json& last = chunks.back();
    EXPECT_EQ(last["choices"], json::array()) << last.dump();
    EXPECT_EQ(last["object"], chat ? "chat.completion.chunk" : "text_completion");
    EXPECT_EQ(last["usage"]["completion_tokens"], 6);
    EXPECT_GT(last["usage"]["prompt_tokens"].get<int>(), 0);
    EXPECT_EQ(last["usage"]["total_tokens"],
              last["usage"]["prompt_tokens"].get<int>() + last["usage"]["completion_tokens"].get<int>());
    for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {  // the others: "usage": null, as OpenAI's
      EXPECT_TRUE(chunks[i].contains("usage") && chunks[i]["usage"].is_null()) << chunks[i].dump();
    }
  }
  // Without include_usage no usage chunk comes.
  const Reply plain = post("/v1/completions", {{"prompt", "Hi"}, {"max_tokens", 3}, {"stream", true}});
  bool done = false;
  for (const json& c : events(plain.body, &done)) EXPECT_FALSE(c.contains("usage")) << c.dump();
}

TEST_F(OpenAiTest, StreamOptionsWithoutStreamIsRefused) {
  const Reply r = post("/v1/completions", {{"prompt", "Hi"}, {"stream_options", {{"include_usage", true}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.j()["error"]["param"], "stream_options") << r.body;
  const Reply bad = post("/v1/completions", {{"prompt", "Hi"}, {"stream", true}, {"stream_options", 3}});
  EXPECT_EQ(bad.status, 400);
}

// --- Bug 7: logprobs ----------------------------------------------------------------------

TEST_F(OpenAiTest, TopLogprobsAreListedMostLikelyFirst) {
  const Reply r = post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 8}, {"temperature", 0},
                                           {"logprobs", 5}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json& lp = r.j()["choices"][0]["logprobs"];
  ASSERT_EQ(lp["top_logprobs"].size(), 8u);
  bool some_not_alphabetical = false;
  for (const json& top : lp["top_logprobs"]) {
    ASSERT_GE(top.size(), 4u);  // 5, less any names that repeat
    std::vector<float> values;
    std::vector<std::string> keys;
    for (const auto& [k, v] : top.items()) {
      values.push_back(v.get<float>());
      keys.push_back(k);
    }
    EXPECT_TRUE(std::is_sorted(values.rbegin(), values.rend())) << top.dump();
    some_not_alphabetical = some_not_alphabetical || !std::is_sorted(keys.begin(), keys.end());
  }
  EXPECT_TRUE(some_not_alphabetical);  // the order is not a side effect of sorted keys
}

// Token names concatenate to the returned text: SentencePiece's dropped space at the start of
// the text ("Once", not " Once") and the BOS that adds no text ("") included.
TEST_F(OpenAiTest, EchoedTokenNamesConcatenateToTheText) {
  for (const int max_tokens : {0, 6}) {
    const Reply r = post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", max_tokens},
                                             {"temperature", 0}, {"echo", true}, {"logprobs", 1}});
    ASSERT_EQ(r.status, 200) << r.body;
    const json& c = r.j()["choices"][0];
    const std::string text = c["text"];
    const json& lp = c["logprobs"];
    EXPECT_EQ(joined(lp["tokens"]), text) << lp["tokens"].dump();
    std::size_t offset = 0;
    for (std::size_t i = 0; i < lp["tokens"].size(); ++i) {
      EXPECT_EQ(lp["text_offset"][i], offset) << i;
      offset += lp["tokens"][i].get<std::string>().size();
    }
    EXPECT_EQ(lp["tokens"][0], "");      // <s>
    EXPECT_EQ(lp["tokens"][1], "Once");  // "▁Once" at the start of the text
  }
}

// With a stop string the logprobs end with the returned text: a stop string that starts at a
// token's first byte drops that token; one that starts inside a token keeps it as the last.
TEST_F(OpenAiTest, LogprobsEndWithTheTextAStopStringCut) {
  const json base = {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}, {"logprobs", 0}};
  const Reply full = post("/v1/completions", base);
  ASSERT_EQ(full.status, 200) << full.body;
  const std::string text = full.j()["choices"][0]["text"];
  const json& lp = full.j()["choices"][0]["logprobs"];
  const std::vector<std::string> names = lp["tokens"];
  const std::vector<std::size_t> offsets = lp["text_offset"];
  ASSERT_EQ(joined(lp["tokens"]), text);
  int tried_inside = 0, tried_boundary = 0;
  for (std::size_t k = 2; k + 1 < names.size() && (tried_inside < 2 || tried_boundary < 2); ++k) {
    if (names[k].size() < 2) continue;
    for (const bool inside : {true, false}) {
      // From the token's second byte (or its first) into the next token's first byte.
      const std::size_t from = offsets[k] + (inside ? 1 : 0);
      const std::string stop = text.substr(from, offsets[k + 1] + 1 - from);
      if (text.find(stop) != from) continue;  // it must first occur here
      json req = base;
      req["stop"] = stop;
      const Reply r = post("/v1/completions", req);
      ASSERT_EQ(r.status, 200) << r.body;
      const json& c = r.j()["choices"][0];
      EXPECT_EQ(c["text"], text.substr(0, from)) << stop;
      EXPECT_EQ(c["finish_reason"], "stop");
      const json& got = c["logprobs"];
      const std::size_t kept = inside ? k + 1 : k;
      ASSERT_EQ(got["tokens"].size(), kept) << "stop " << json(stop).dump() << ": " << got["tokens"].dump();
      for (const char* key : {"token_logprobs", "top_logprobs", "text_offset"}) EXPECT_EQ(got[key].size(), kept) << key;
      for (std::size_t i = 0; i < kept; ++i) EXPECT_EQ(got["tokens"][i], names[i]);
      if (!inside) {
        EXPECT_EQ(joined(got["tokens"]), c["text"].get<std::string>());
      }
      (inside ? tried_inside : tried_boundary)++;
    }
  }
  EXPECT_GT(tried_inside, 0);
  EXPECT_GT(tried_boundary, 0);
}

// --- n and best_of --------------------------------------------------------------------------

TEST_F(OpenAiTest, NChoicesAreSeededPerChoiceAloneOrUnderLoad) {
  const json req = {{"prompt", "Lily saw a"}, {"max_tokens", 12}, {"temperature", 1.0}, {"seed", 5}, {"n", 3},
                    {"logprobs", 0}};
  const Reply alone = post("/v1/completions", req);
  ASSERT_EQ(alone.status, 200) << alone.body;
  const json& choices = alone.j()["choices"];
  ASSERT_EQ(choices.size(), 3u);
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(choices[i]["index"], i);
    texts.push_back(choices[i]["text"]);
  }
  EXPECT_FALSE(texts[0] == texts[1] && texts[1] == texts[2]) << "the choices drew the same tokens";
  // The prompt counts once, every choice's tokens count.
  const int prompt_tokens = static_cast<int>(tokenizer_->encode("Lily saw a").size());
  EXPECT_EQ(alone.j()["usage"]["prompt_tokens"], prompt_tokens);
  std::size_t generated = 0;
  for (const json& c : choices) generated += c["logprobs"]["tokens"].size();
  EXPECT_EQ(alone.j()["usage"]["completion_tokens"], generated);
  // Choice 0 is the request with n = 1.
  json one = req;
  one["n"] = 1;
  EXPECT_EQ(post("/v1/completions", one).j()["choices"][0]["text"], texts[0]);
  // Under load (three more at once, beside a second copy): the same choices.
  std::vector<std::future<Reply>> load;
  for (int i = 0; i < 3; ++i) {
    json other = req;
    other["seed"] = 100 + i;
    load.push_back(std::async(std::launch::async, [other] { return post("/v1/completions", other); }));
  }
  const Reply again = post("/v1/completions", req);
  for (auto& f : load) EXPECT_EQ(f.get().status, 200);
  ASSERT_EQ(again.status, 200);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(again.j()["choices"][i]["text"], texts[i]) << i;
}

TEST_F(OpenAiTest, StreamedChoicesCarryTheirIndex) {
  for (const bool chat : {false, true}) {
    json req = {{"max_tokens", 8}, {"temperature", 0.9}, {"seed", 11}, {"n", 2}};
    if (chat) req["messages"] = json::array({{{"role", "user"}, {"content", "Tell me a story"}}});
    else req["prompt"] = "Once upon a time";
    const std::string path = chat ? "/v1/chat/completions" : "/v1/completions";
    const Reply whole = post(path, req);
    ASSERT_EQ(whole.status, 200) << whole.body;
    req["stream"] = true;
    const Reply streamed = post(path, req);
    bool done = false;
    std::map<int, std::string> text;
    std::map<int, int> finished;
    for (const json& c : events(streamed.body, &done)) {
      const json& choice = c["choices"][0];
      const int i = choice["index"];
      text[i] += chat ? choice["delta"].value("content", "") : choice["text"].get<std::string>();
      if (!choice["finish_reason"].is_null()) ++finished[i];
    }
    EXPECT_TRUE(done);
    ASSERT_EQ(text.size(), 2u);
    for (int i = 0; i < 2; ++i) {
      const json& c = whole.j()["choices"][static_cast<std::size_t>(i)];
      EXPECT_EQ(text[i], chat ? c["message"]["content"].get<std::string>() : c["text"].get<std::string>()) << i;
      EXPECT_EQ(finished[i], 1) << i;
    }
  }
}

// best_of runs that many choices and returns the n with the highest mean logprob per token:
// the same choices as n = best_of (same seed), so the winner can be checked from their logprobs.
TEST_F(OpenAiTest, BestOfReturnsTheChoicesWithTheHighestMeanLogprob) {
  const json req = {{"prompt", "The dog"}, {"max_tokens", 10}, {"temperature", 1.2}, {"seed", 21}};
  json all = req;
  all["n"] = 4;
  all["logprobs"] = 0;
  const Reply every = post("/v1/completions", all);
  ASSERT_EQ(every.status, 200) << every.body;
  std::vector<std::pair<double, std::string>> ranked;
  for (const json& c : every.j()["choices"]) {
    double sum = 0;
    for (const json& v : c["logprobs"]["token_logprobs"]) sum += v.get<double>();
    ranked.emplace_back(sum / static_cast<double>(c["logprobs"]["token_logprobs"].size()), c["text"]);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  json best = req;
  best["best_of"] = 4;
  best["n"] = 2;
  const Reply r = post("/v1/completions", best);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.j()["choices"].size(), 2u);
  EXPECT_EQ(r.j()["choices"][0]["text"], ranked[0].second);
  EXPECT_EQ(r.j()["choices"][1]["text"], ranked[1].second);
  EXPECT_EQ(r.j()["choices"][1]["index"], 1);
  EXPECT_EQ(r.j()["usage"]["completion_tokens"], every.j()["usage"]["completion_tokens"]);  // all four ran
}

TEST_F(OpenAiTest, ChoiceCountsAreBounded) {
  const auto param_of = [](const Reply& r) { return r.status == 400 ? r.j()["error"]["param"].get<std::string>() : ""; };
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", "a"}, {"n", 17}})), "n");
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", "a"}, {"n", 0}})), "n");
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", {"a", "b", "c"}}, {"n", 6}})), "n");  // 18 > 16
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", "a"}, {"n", 3}, {"best_of", 2}})), "best_of");
  EXPECT_EQ(param_of(post("/v1/completions", {{"prompt", "a"}, {"best_of", 2}, {"stream", true}})), "best_of");
  EXPECT_EQ(param_of(post("/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", "a"}}}}, {"n", 17}})),
            "n");
}

// --- min_p, penalties, logit_bias -----------------------------------------------------------

// Greedy with penalties: each step's token must be the best of the raw logprobs (which the
// server reports before any processing) less count * frequency + (count > 0) * presence, the
// counts over the tokens generated before it; and some step must differ from plain greedy.
TEST_F(OpenAiTest, FrequencyAndPresencePenaltiesFollowOpenAi) {
  for (const auto& [frequency, presence] : {std::pair{1.5, 0.0}, std::pair{0.0, 2.0}, std::pair{0.7, 0.5}}) {
    const Reply r = post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 30}, {"temperature", 0},
                                             {"logprobs", 20}, {"frequency_penalty", frequency},
                                             {"presence_penalty", presence}});
    ASSERT_EQ(r.status, 200) << r.body;
    const json& lp = r.j()["choices"][0]["logprobs"];
    std::map<std::string, int> count;
    bool moved = false;
    for (std::size_t t = 0; t < lp["tokens"].size(); ++t) {
      const std::string chosen = lp["tokens"][t];
      const auto penalised = [&](const std::string& name, double logprob) {
        const int n = count.count(name) ? count[name] : 0;
        return logprob - n * frequency - (n > 0 ? presence : 0.0);
      };
      const double mine = penalised(chosen, lp["token_logprobs"][t].get<double>());
      bool first = true;
      for (const auto& [name, v] : lp["top_logprobs"][t].items()) {
        EXPECT_GE(mine, penalised(name, v.get<double>()) - 1e-4) << "step " << t << ": " << name << " beats " << chosen;
        if (first && name != chosen) moved = true;
        first = false;
      }
      ++count[chosen];
    }
    EXPECT_TRUE(moved) << "the penalties changed nothing (frequency " << frequency << ", presence " << presence << ")";
  }
}

TEST_F(OpenAiTest, LogitBiasIsAddedBeforeSampling) {
  const json greedy = {{"prompt", "Once upon a time"}, {"max_tokens", 5}, {"temperature", 0}, {"logprobs", 0}};
  const Reply plain = post("/v1/completions", greedy);
  ASSERT_EQ(plain.status, 200);
  // +100 on one token makes it the only choice, sampled or greedy.
  // (a token of greedy's own text, so it exists, but not its first one)
  const json& names = plain.j()["choices"][0]["logprobs"]["tokens"];
  TokenId forced = -1;
  for (const json& name : names)
    if (forced < 0 && name != names[0]) forced = id_of(name.get<std::string>());
  ASSERT_GE(forced, 0);
  for (const double temperature : {0.0, 1.0}) {
    json req = greedy;
    req["temperature"] = temperature;
    req["seed"] = 3;
    req["logit_bias"] = {{std::to_string(forced), 100}};
    const Reply r = post("/v1/completions", req);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.j()["usage"]["completion_tokens"], 5);
    const std::string name = r.j()["choices"][0]["logprobs"]["tokens"][0];
    for (const json& t : r.j()["choices"][0]["logprobs"]["tokens"]) EXPECT_EQ(t, name);
    EXPECT_EQ(id_of(name), forced) << name;
  }
  // -100 on greedy's first token takes it out.
  const std::string first = plain.j()["choices"][0]["logprobs"]["tokens"][0];
  const TokenId first_id = id_of(first);
  ASSERT_GE(first_id, 0) << first;
  json req = greedy;
  req["logit_bias"] = {{std::to_string(first_id), -100}};
  const Reply r = post("/v1/completions", req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.j()["choices"][0]["logprobs"]["tokens"][0], first);
}

TEST_F(OpenAiTest, MinPOneIsGreedyAndFieldsAreRangeChecked) {
  const json base = {{"prompt", "Lily saw a"}, {"max_tokens", 12}};
  json greedy = base;
  greedy["temperature"] = 0;
  json min_p = base;
  min_p["temperature"] = 1.5;
  min_p["seed"] = 8;
  min_p["min_p"] = 1;
  EXPECT_EQ(post("/v1/completions", min_p).j()["choices"][0]["text"], post("/v1/completions", greedy).j()["choices"][0]["text"]);
  const std::vector<std::pair<json, std::string>> bad = {
      {{{"min_p", 1.5}}, "min_p"},
      {{{"frequency_penalty", 2.5}}, "frequency_penalty"},
      {{{"presence_penalty", -3}}, "presence_penalty"},
      {{{"logit_bias", {{"999999", 1}}}}, "logit_bias"},
      {{{"logit_bias", {{"-1", 1}}}}, "logit_bias"},
      {{{"logit_bias", {{"abc", 1}}}}, "logit_bias"},
      {{{"logit_bias", {{"5", 101}}}}, "logit_bias"},
      {{{"logit_bias", {{"5", "x"}}}}, "logit_bias"},
      {{{"logit_bias", {1, 2}}}, "logit_bias"},
  };
  for (const auto& [fields, param] : bad) {
    json req = base;
    req.update(fields);
    const Reply r = post("/v1/completions", req);
    EXPECT_EQ(r.status, 400) << fields.dump();
    if (r.status == 400) {
      EXPECT_EQ(r.j()["error"]["param"], param) << fields.dump();
    }
  }
}

// --- chat -----------------------------------------------------------------------------------

TEST_F(OpenAiTest, ChatLogprobsInOpenAisShapeAlsoStreamed) {
  json req = {{"messages", {{{"role", "user"}, {"content", "Tell me a story"}}}}, {"max_tokens", 8},
              {"temperature", 0}, {"logprobs", true}, {"top_logprobs", 3}};
  const Reply r = post("/v1/chat/completions", req);
  ASSERT_EQ(r.status, 200) << r.body;
  const json& choice = r.j()["choices"][0];
  const json& content = choice["logprobs"]["content"];
  ASSERT_FALSE(content.empty()) << r.body;
  std::string text;
  for (const json& t : content) {
    const std::string token = t["token"];
    text += token;
    std::vector<int> bytes(token.begin(), token.end());
    for (int& b : bytes) b &= 0xFF;
    EXPECT_EQ(t["bytes"], json(bytes));
    EXPECT_LE(t["logprob"].get<double>(), 0.0);
    ASSERT_EQ(t["top_logprobs"].size(), 3u);
    EXPECT_EQ(t["top_logprobs"][0]["token"], token);  // greedy: the top one
    for (std::size_t i = 1; i < 3; ++i)
      EXPECT_GE(t["top_logprobs"][i - 1]["logprob"].get<double>(), t["top_logprobs"][i]["logprob"].get<double>());
    EXPECT_TRUE(t["top_logprobs"][0].contains("bytes"));
  }
  EXPECT_EQ(text, choice["message"]["content"].get<std::string>());

  req["stream"] = true;
  const Reply s = post("/v1/chat/completions", req);
  bool done = false;
  json streamed = json::array();
  for (const json& c : events(s.body, &done))
    if (!c["choices"][0]["logprobs"].is_null())
      for (const json& t : c["choices"][0]["logprobs"]["content"]) streamed.push_back(t);
  EXPECT_EQ(streamed, content);

  // Without logprobs: null; top_logprobs alone is refused; logprobs must be a boolean.
  EXPECT_TRUE(post("/v1/chat/completions", {{"messages", req["messages"]}, {"max_tokens", 2}})
                  .j()["choices"][0]["logprobs"].is_null());
  const Reply alone = post("/v1/chat/completions", {{"messages", req["messages"]}, {"top_logprobs", 2}});
  EXPECT_EQ(alone.status, 400);
  EXPECT_EQ(alone.j()["error"]["param"], "top_logprobs");
  EXPECT_EQ(post("/v1/chat/completions", {{"messages", req["messages"]}, {"logprobs", 2}}).status, 400);
  EXPECT_EQ(post("/v1/chat/completions", {{"messages", req["messages"]}, {"logprobs", true}, {"top_logprobs", 21}}).status,
            400);
}

TEST_F(OpenAiTest, DeveloperRoleIsSystemAndOtherRolesAreNamed) {
  const auto reply = [](const std::string& role) {
    return post("/v1/chat/completions",
                {{"messages", {{{"role", role}, {"content", "You tell stories."}}, {{"role", "user"}, {"content", "Hi"}}}},
                 {"max_tokens", 8},
                 {"temperature", 0}});
  };
  const Reply system = reply("system"), developer = reply("developer");
  ASSERT_EQ(developer.status, 200) << developer.body;
  EXPECT_EQ(developer.j()["choices"][0]["message"], system.j()["choices"][0]["message"]);
  for (const std::string role : {"tool", "function", "critic"}) {
    const Reply r = reply(role);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.j()["error"]["message"].get<std::string>().find("\"" + role + "\""), std::string::npos) << r.body;
  }
}

// A conversation that ends on an assistant message continues it: the mistral template renders
// "<s>[INST] u [/INST]" and the message's text without </s>, so the reply is the completion of
// exactly those ids.
TEST_F(OpenAiTest, AssistantPrefillContinuesTheMessage) {
  const Reply chat = post("/v1/chat/completions", {{"messages",
                                                    {{{"role", "user"}, {"content", "Tell me a story"}},
                                                     {{"role", "assistant"}, {"content", "Once upon a"}}}},
                                                   {"max_tokens", 10},
                                                   {"temperature", 0}});
  ASSERT_EQ(chat.status, 200) << chat.body;
  std::vector<TokenId> ids{tokenizer_->bos_id()};
  for (const std::string part : {"[INST] Tell me a story [/INST]", "Once upon a"}) {
    const auto p = tokenizer_->encode(part, false);
    ids.insert(ids.end(), p.begin(), p.end());
  }
  const Reply completion = post("/v1/completions", {{"prompt", ids}, {"max_tokens", 10}, {"temperature", 0}});
  ASSERT_EQ(completion.status, 200) << completion.body;
  EXPECT_EQ(chat.j()["choices"][0]["message"]["content"], completion.j()["choices"][0]["text"]);
  EXPECT_EQ(chat.j()["usage"]["prompt_tokens"], ids.size());
}

// --- fields that are not implemented: a 400 naming them; harmless ones accepted -------------

TEST_F(OpenAiTest, UnimplementedFieldsAreRefusedByName) {
  const json messages = json::array({{{"role", "user"}, {"content", "Hi"}}});
  const std::vector<std::pair<std::string, json>> chat_refused = {
      {"response_format", {{"type", "json_object"}}},
      {"response_format", {{"type", 5}}},
      {"tools", json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}})},
      {"tool_choice", "auto"},
      {"functions", json::array({{{"name", "f"}}})},
      {"function_call", "auto"},
      {"parallel_tool_calls", true},
      {"audio", {{"voice", "alloy"}}},
      {"modalities", {"text", "audio"}},
      {"prediction", {{"type", "content"}, {"content", "x"}}},
      {"reasoning_effort", "low"},
      {"web_search_options", json::object()},
      {"guided_json", json::object()},
  };
  for (const auto& [name, value] : chat_refused) {
    const Reply r = post("/v1/chat/completions", {{"messages", messages}, {"max_tokens", 2}, {name, value}});
    EXPECT_EQ(r.status, 400) << name;
    if (r.status == 400) {
      EXPECT_EQ(r.j()["error"]["param"], name) << r.body;
    }
  }
  for (const auto& [name, value] : std::vector<std::pair<std::string, json>>{
           {"suffix", "The end."}, {"response_format", {{"type", "json_object"}}}, {"grammar", "root ::= \"a\""}}) {
    const Reply r = post("/v1/completions", {{"prompt", "Hi"}, {"max_tokens", 2}, {name, value}});
    EXPECT_EQ(r.status, 400) << name;
    if (r.status == 400) {
      EXPECT_EQ(r.j()["error"]["param"], name) << r.body;
    }
  }
  const Reply calls = post("/v1/chat/completions",
                           {{"messages", {{{"role", "user"}, {"content", "Hi"}},
                                          {{"role", "assistant"}, {"content", nullptr},
                                           {"tool_calls", {{{"id", "1"}, {"type", "function"}}}}}}}});
  EXPECT_EQ(calls.status, 400);
}

TEST_F(OpenAiTest, HarmlessFieldsAndLmEvalRequestsAreAccepted) {
  const json harmless = {{"model", "stories260K"}, {"user", "u-1"}, {"metadata", {{"k", "v"}}}, {"store", false},
                         {"service_tier", "auto"}, {"response_format", {{"type", "text"}}}, {"tools", json::array()},
                         {"tool_choice", "none"}, {"modalities", {"text"}}, {"suffix", ""},
                         {"prompt_cache_key", "k"}, {"safety_identifier", "s"}, {"n", 1}, {"best_of", 1}};
  json chat = harmless;
  chat.erase("suffix");
  chat.erase("best_of");
  chat["messages"] = json::array({{{"role", "user"}, {"content", "Hi"}}});
  chat["max_tokens"] = 2;
  const Reply chat_reply = post("/v1/chat/completions", chat);
  EXPECT_EQ(chat_reply.status, 200) << chat_reply.body;
  json completion = harmless;
  for (const char* chat_only : {"tools", "tool_choice", "modalities"}) completion.erase(chat_only);
  completion["prompt"] = "Hi";
  completion["max_tokens"] = 2;
  const Reply completion_reply = post("/v1/completions", completion);
  EXPECT_EQ(completion_reply.status, 200) << completion_reply.body;
  // lm-evaluation-harness local-completions: log-likelihood (token ids, echo) and generation.
  const std::vector<TokenId> ids = tokenizer_->encode("Once upon a time there was", true);
  const Reply ll = post("/v1/completions", {{"model", "stories260K"}, {"prompt", json::array({ids})}, {"temperature", 0},
                                            {"max_tokens", 1}, {"logprobs", 1}, {"seed", 1234}, {"echo", true}});
  ASSERT_EQ(ll.status, 200) << ll.body;
  EXPECT_EQ(ll.j()["choices"][0]["logprobs"]["tokens"].size(), ids.size() + 1);
  const Reply gen = post("/v1/completions", {{"model", "stories260K"}, {"prompt", {"Once upon", "A dog"}},
                                             {"max_tokens", 8}, {"temperature", 0}, {"stop", {"\n\n", "."}},
                                             {"seed", 1234}});
  ASSERT_EQ(gen.status, 200) << gen.body;
  EXPECT_EQ(gen.j()["choices"].size(), 2u);
}

}  // namespace
}  // namespace supra::serve
