// The server end to end, in-process on the shipped model (stories260K), over 127.0.0.1 on a
// port the kernel picks: OpenAI request/response shapes, streaming, logprobs checked against
// the model itself, stop strings, the states API, the prefix cache, determinism under
// concurrency, authentication and the malformed-request contract; the chat templates; and, on a
// server with one slot and a queue of one, the 503 of a full queue and client disconnects.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <httplib.h>

#include <cmath>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve/api_error.h"
#include "supra/chat_template.h"
#include "serve/logprobs.h"
#include "running_server.h"
#include "supra/serve.h"
#include "supra/error.h"
#include "supra/generate.h"
#include "supra/model.h"
#include "supra/tokenizer.h"
#include "test_support.h"

namespace supra::serve {
namespace {

using test::connect_to;
using test::start_endless_stream;
using test::kModel;
using test::RunningServer;

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kKey = "test-key";

struct Reply {
  int status = 0;
  std::string body;
  json j() const { return json::parse(body); }
};

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions o;
    o.api_key = kKey;
    o.parallel = 4;
    server_ = new RunningServer(o);
    port_ = server_->port();
    model_ = new Model(Model::load(kModel));
    tokenizer_ = new Tokenizer(Tokenizer::load_folder(kModel));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete model_;
    delete tokenizer_;
  }

  static httplib::Client client(bool with_key = true) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    if (with_key) c.set_bearer_token_auth(kKey.c_str());
    return c;
  }
  static Reply post(const std::string& path, const std::string& body, bool with_key = true) {
    auto c = client(with_key);
    auto r = c.Post(path.c_str(), body, "application/json");
    if (!r) return {-1, "no response: " + httplib::to_string(r.error())};
    return {r->status, r->body};
  }
  static Reply post(const std::string& path, const json& body) { return post(path, body.dump(), true); }
  static Reply get(const std::string& path, bool with_key = true) {
    auto c = client(with_key);
    auto r = c.Get(path.c_str());
    if (!r) return {-1, "no response"};
    return {r->status, r->body};
  }
  // The "data: ..." payloads of a server-sent event stream, [DONE] included.
  static std::vector<std::string> stream(const std::string& path, const json& body) {
    auto c = client();
    std::string raw;
    httplib::Request req;
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    EXPECT_TRUE(r) << "no response";
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
    std::vector<std::string> events;
    for (std::size_t at = 0; (at = r->body.find("data: ", at)) != std::string::npos;) {
      const std::size_t end = r->body.find("\n\n", at);
      events.push_back(r->body.substr(at + 6, end - at - 6));
      at = end;
    }
    return events;
  }
  // Sends raw bytes and returns everything the server answers until it closes.
  static std::string raw_request(const std::string& bytes) {
    const int fd = connect_to(port_);
    std::string out;
    if (fd >= 0 && ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    }
    if (fd >= 0) ::close(fd);
    return out;
  }
  static double metric(const std::string& name) {
    const std::string text = get("/metrics").body;
    const std::size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
  }
  static std::string completion_text(const json& body) {
    const Reply r = post("/v1/completions", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.j()["choices"][0]["text"].get<std::string>() : "";
  }

  static RunningServer* server_;
  static int port_;
  static Model* model_;
  static Tokenizer* tokenizer_;
};

RunningServer* ServeTest::server_ = nullptr;
int ServeTest::port_ = 0;
Model* ServeTest::model_ = nullptr;
Tokenizer* ServeTest::tokenizer_ = nullptr;

TEST_F(ServeTest, GreedyCompletionMatchesTheLibrary) {
  const Reply r = post("/v1/completions", json{{"prompt", "Once upon a time"}, {"max_tokens", 24}, {"temperature", 0}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.j();
  EXPECT_EQ(j["object"], "text_completion");
  const auto prompt = tokenizer_->encode("Once upon a time");
  GenerationOptions g;
  g.max_new_tokens = 24;
  g.sampling.temperature = 0;
  g.stop_ids = tokenizer_->eos_ids();
  auto all = prompt;
  for (TokenId t : generate(*model_, prompt, g).tokens)
    if (t != tokenizer_->eos_id()) all.push_back(t);
  const std::string expected = tokenizer_->decode(all).substr(tokenizer_->decode(prompt).size());
  EXPECT_EQ(j["choices"][0]["text"], expected);
  EXPECT_EQ(j["usage"]["prompt_tokens"], prompt.size());
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
}

TEST_F(ServeTest, StreamingCompletionEqualsNonStreaming) {
  const json body = {{"prompt", "Lily had a"}, {"max_tokens", 30}, {"temperature", 0.9}, {"seed", 7}};
  const std::string whole = completion_text(body);
  json sbody = body;
  sbody["stream"] = true;
  const auto events = stream("/v1/completions", sbody);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) text += json::parse(events[i])["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, whole);
  EXPECT_FALSE(json::parse(events[events.size() - 2])["choices"][0]["finish_reason"].is_null());
}

TEST_F(ServeTest, ChatCompletionAndStream) {
  const json body = {{"messages", json::array({{{"role", "system"}, {"content", "Tell stories."}},
                                               {{"role", "user"}, {"content", "A story about a cat"}}})},
                     {"max_tokens", 20},
                     {"temperature", 0}};
  const Reply r = post("/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.j();
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  const std::string content = j["choices"][0]["message"]["content"];
  // The Mistral template: <s>[INST] system\n\nuser [/INST]
  const auto expected_prompt = [&] {
    std::vector<TokenId> ids{tokenizer_->bos_id()};
    const auto part = tokenizer_->encode("[INST] Tell stories.\n\nA story about a cat [/INST]", false);
    ids.insert(ids.end(), part.begin(), part.end());
    return ids;
  }();
  EXPECT_EQ(j["usage"]["prompt_tokens"], expected_prompt.size());

  json sbody = body;
  sbody["stream"] = true;
  const auto events = stream("/v1/chat/completions", sbody);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(json::parse(events[0])["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const json c = json::parse(events[i]);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    text += c["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(text, content);
}

TEST_F(ServeTest, EchoedPromptLogprobsEqualTheModel) {
  const auto ids = tokenizer_->encode("Once upon a time there was a dog");
  const Reply r = post("/v1/completions", json{{"prompt", ids}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 3}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json lp = r.j()["choices"][0]["logprobs"];
  ASSERT_EQ(lp["token_logprobs"].size(), ids.size());
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  EXPECT_TRUE(lp["top_logprobs"][0].is_null());
  State state = model_->new_state();
  const auto logits = model_->forward(ids, state, Mode::Parallel, LogitsWanted::All);
  const std::size_t V = static_cast<std::size_t>(model_->config().vocab_size);
  for (std::size_t i = 1; i < ids.size(); ++i) {
    const auto row = log_softmax(std::span(logits).subspan((i - 1) * V, V));
    EXPECT_NEAR(lp["token_logprobs"][i].get<double>(), row[static_cast<std::size_t>(ids[i])], 1e-4) << i;
    EXPECT_EQ(lp["top_logprobs"][i].size(), 3u);
  }
  EXPECT_EQ(r.j()["choices"][0]["text"], tokenizer_->decode(ids));
  EXPECT_EQ(lp["text_offset"][0], 0);
  // lm-eval's shape: echo with one generated token appends one more entry.
  const Reply r1 = post("/v1/completions", json{{"prompt", ids}, {"max_tokens", 1}, {"echo", true}, {"logprobs", 1},
                                                {"temperature", 0}});
  ASSERT_EQ(r1.status, 200) << r1.body;
  EXPECT_EQ(r1.j()["choices"][0]["logprobs"]["tokens"].size(), ids.size() + 1);
}

TEST_F(ServeTest, StopStringEndsTheText) {
  const json body = {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0}};
  const std::string full = completion_text(body);
  ASSERT_GT(full.size(), 20u);
  const std::string stop = full.substr(10, 4);
  json sbody = body;
  sbody["stop"] = json::array({"zzzz", stop});
  const Reply r = post("/v1/completions", sbody);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.j()["choices"][0]["text"], full.substr(0, full.find(stop)));
  EXPECT_EQ(r.j()["choices"][0]["finish_reason"], "stop");
  sbody["stream"] = true;
  std::string text;
  const auto events = stream("/v1/completions", sbody);
  for (std::size_t i = 0; i + 1 < events.size(); ++i) text += json::parse(events[i])["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, full.substr(0, full.find(stop)));
}

TEST_F(ServeTest, StatesCreateContinueForkExportImport) {
  const auto first = tokenizer_->encode("Once upon a time, there was a");
  const auto second = tokenizer_->encode("little bird", false);
  const Reply created = post("/v1/states", json{{"tokens", first}});
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id = created.j()["id"];
  EXPECT_EQ(created.j()["tokens"], first.size());
  EXPECT_EQ(created.j()["position"], first.size());

  const json sampling = {{"max_tokens", 25}, {"temperature", 0.8}, {"seed", 11}, {"repetition_penalty", 1.2}};
  auto all = first;
  all.insert(all.end(), second.begin(), second.end());
  json fresh = sampling;
  fresh["prompt"] = all;
  const std::string expected = completion_text(fresh);
  json cont = sampling;
  cont["prompt"] = second;
  cont["state_id"] = id;
  EXPECT_EQ(completion_text(cont), expected);

  const Reply fork = post("/v1/states/" + id + "/fork", std::string());
  ASSERT_EQ(fork.status, 200) << fork.body;
  cont["state_id"] = fork.j()["id"];
  EXPECT_EQ(completion_text(cont), expected);

  const Reply exported = get("/v1/states/" + id + "/export");
  ASSERT_EQ(exported.status, 200);
  auto c = client();
  auto imported = c.Post("/v1/states/import", exported.body, "application/octet-stream");
  ASSERT_TRUE(imported);
  ASSERT_EQ(imported->status, 200) << imported->body;
  cont["state_id"] = json::parse(imported->body)["id"];
  EXPECT_EQ(completion_text(cont), expected);

  // Continuing a state with more tokens through POST /v1/states.
  const Reply extended = post("/v1/states", json{{"tokens", second}, {"state_id", id}});
  ASSERT_EQ(extended.status, 200) << extended.body;
  EXPECT_EQ(extended.j()["position"], all.size());

  EXPECT_GE(get("/v1/states").j()["data"].size(), 4u);
  auto del = c.Delete(("/v1/states/" + id).c_str());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  cont["state_id"] = id;
  EXPECT_EQ(post("/v1/completions", cont).status, 404);

  // Corruptions: every one is a 400, never a crash or a silently wrong state.
  const auto import = [&](const std::string& bytes) {
    auto r = c.Post("/v1/states/import", bytes, "application/octet-stream");
    return r ? r->status : -1;
  };
  std::string flipped = exported.body;
  flipped[flipped.size() / 2] ^= 0x40;
  EXPECT_EQ(import(flipped), 400);
  EXPECT_EQ(import(exported.body.substr(0, exported.body.size() - 9)), 400);
  EXPECT_EQ(import("XXXX" + exported.body.substr(4)), 400);
  EXPECT_EQ(import("short"), 400);
  EXPECT_EQ(import(""), 400);
}

TEST_F(ServeTest, RepeatedPrefixHitsTheCache) {
  std::vector<TokenId> prefix = tokenizer_->encode(
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her "
      "friends. One day, she saw a big red ball under a tree and she wanted to play with it very much. ");
  while (prefix.size() < 140) prefix.push_back(prefix[prefix.size() / 2]);
  const double hits = metric("supra_cache_hits_total");
  json body = {{"prompt", prefix}, {"max_tokens", 10}, {"temperature", 0}};
  const std::string a = completion_text(body);
  const std::string b = completion_text(body);
  EXPECT_EQ(a, b);
  EXPECT_GE(metric("supra_cache_hits_total"), hits + 1);
  EXPECT_GT(metric("supra_cache_bytes"), 0);
}

TEST_F(ServeTest, ConcurrentSeededRequestsEqualRunningAlone) {
  std::vector<json> bodies;
  for (int i = 0; i < 8; ++i)
    bodies.push_back({{"prompt", i % 2 ? "Tom and Sue" : "The cat"}, {"max_tokens", 24 + 3 * i}, {"temperature", 1.0},
                      {"top_p", 0.9}, {"seed", 100 + i}});
  std::vector<std::string> alone;
  for (const auto& b : bodies) alone.push_back(completion_text(b));
  std::vector<std::future<std::string>> together;
  for (const auto& b : bodies) together.push_back(std::async(std::launch::async, [b] { return completion_text(b); }));
  for (std::size_t i = 0; i < bodies.size(); ++i) EXPECT_EQ(together[i].get(), alone[i]) << i;
}

TEST_F(ServeTest, AuthenticationAndOpenEndpoints) {
  EXPECT_EQ(post("/v1/completions", R"({"prompt":"a"})", false).status, 401);
  const Reply r = get("/v1/models", false);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.j()["error"]["code"], "invalid_api_key");
  EXPECT_EQ(get("/health", false).status, 200);
  const Reply models = get("/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.j()["data"][0]["id"], "stories260K");
  const std::string metrics = get("/metrics").body;
  for (const char* name : {"supra_requests_total", "supra_tokens_generated_total", "supra_prompt_tokens_total",
                           "supra_tokens_per_second", "supra_queue_depth", "supra_cache_hits_total",
                           "supra_cache_misses_total"})
    EXPECT_NE(metrics.find(std::string("\n") + name + " "), std::string::npos) << name;
}

TEST_F(ServeTest, MalformedRequestsGetOpenAIErrors) {
  const auto expect_error = [&](const std::string& path, const std::string& body, int status, const std::string& param) {
    const Reply r = post(path, body, true);
    ASSERT_EQ(r.status, status) << body.substr(0, 200) << " -> " << r.body;
    const json e = json::parse(r.body)["error"];
    EXPECT_TRUE(e["message"].is_string()) << r.body;
    EXPECT_EQ(e["type"], status >= 500 ? "server_error" : "invalid_request_error") << r.body;
    if (!param.empty()) {
      EXPECT_EQ(e["param"], param) << r.body;
    }
    EXPECT_TRUE(e.contains("code")) << r.body;
  };
  const std::string c = "/v1/completions";
  expect_error(c, "{not json", 400, "");
  expect_error(c, R"({"prompt": "a", "max_tokens": 1e99999})", 400, "");  // number overflow while parsing
  expect_error(c, "[1,2]", 400, "");
  expect_error(c, R"({"max_tokens": 5})", 400, "prompt");
  expect_error(c, R"({"prompt": 5})", 400, "prompt");
  expect_error(c, R"({"prompt": [1, 99999]})", 400, "prompt");
  expect_error(c, R"({"prompt": []})", 400, "prompt");
  expect_error(c, R"({"prompt": "a", "max_tokens": "5"})", 400, "max_tokens");
  expect_error(c, R"({"prompt": "a", "max_tokens": -1})", 400, "max_tokens");
  expect_error(c, R"({"prompt": "a", "max_tokens": 100000000000000000000})", 400, "max_tokens");
  expect_error(c, R"({"prompt": "a", "max_tokens": 1.5})", 400, "max_tokens");
  expect_error(c, R"({"prompt": "a", "temperature": -1})", 400, "temperature");
  expect_error(c, R"({"prompt": "a", "top_p": 0})", 400, "top_p");
  expect_error(c, R"({"prompt": "a", "stop": 3})", 400, "stop");
  expect_error(c, R"({"prompt": "a", "stream": "yes"})", 400, "stream");
  expect_error(c, R"({"prompt": "a", "logprobs": 100})", 400, "logprobs");
  expect_error(c, R"({"prompt": "a", "n": 17})", 400, "n");  // n is bounded (test_server_openai.cpp)
  expect_error(c, R"({"prompt": "a", "state_id": "state-none"})", 404, "state_id");
  expect_error(c, "{\"prompt\": \"\xff\xfe\"}", 400, "");
  // Nesting far past any real request (a 600 KB body, under the 1 MiB cap): refused, not parsed.
  expect_error(c, "{\"prompt\": " + std::string(300000, '[') + std::string(300000, ']') + "}", 400, "");
  // A body over the limit is refused from its Content-Length alone, before it is sent
  // (a client still writing it could not read the reply, hence the raw socket).
  const std::string big = raw_request("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + kKey +
                                      "\r\nContent-Type: application/json\r\nContent-Length: 1100000\r\n\r\n");
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big;
  EXPECT_NE(big.find("\"invalid_request_error\""), std::string::npos) << big;
  expect_error("/v1/chat/completions", R"({"messages": []})", 400, "messages");
  expect_error("/v1/chat/completions", R"({"messages": [{"role": "wizard", "content": "x"}]})", 400, "messages");
  expect_error("/v1/chat/completions", R"({"messages": [{"role": "assistant", "content": "x"}]})", 400, "messages");
  expect_error("/v1/states", R"({"tokens": "abc"})", 400, "tokens");
  expect_error("/v1/nothing", "{}", 404, "");
  // Unknown fields are ignored, as OpenAI-compatible servers do.
  EXPECT_EQ(post(c, std::string(R"({"prompt": "a", "max_tokens": 1, "user": "x", "frobnicate": true})")).status, 200);
  const Reply missing = get("/v1/unknown");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.j()["error"]["type"], "invalid_request_error");
}

TEST_F(ServeTest, UnknownFieldsAreIgnored) {
  const Reply r = post("/v1/completions", json{{"prompt", "Once upon a time"},
                                               {"max_tokens", 3},
                                               {"user", "x"},
                                               {"n", 1},
                                               {"frequency_penalty", 0},
                                               {"foo", {{"bar", 1}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j()["object"], "text_completion");
}

// An unknown --chat-template fails before the model loads (supra/chat_template.h names the known ones).
TEST(ChatTemplate, AnUnknownTemplateStopsTheServer) {
  ServerOptions o;
  o.chat_template = "vicuna";
  EXPECT_THROW(Server(kModel, o), Error);
}

// A server with one slot and a queue of one, the chatml template and no token limit, so that a
// greedy sequence runs until its client leaves (stories260K's greedy text from "Once upon a time"
// has no EOS in its first 3000 tokens, seconds of generation; the tests take milliseconds).
class OneSlotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions o;
    o.parallel = 1;
    o.queue_capacity = 1;
    o.max_tokens = 1 << 24;
    o.chat_template = "chatml";
    server_ = new RunningServer(o);
    port_ = server_->port();
  }
  static void TearDownTestSuite() {
    delete server_;
  }
  // Every test leaves the server idle.
  void TearDown() override {
    EXPECT_TRUE(wait_for([] { return metric("supra_active_sequences") == 0 && metric("supra_queue_depth") == 0; }));
  }

  static Reply post(const std::string& path, const json& body) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10, 0);
    auto r = c.Post(path.c_str(), body.dump(), "application/json");
    if (!r) return {-1, "no response: " + httplib::to_string(r.error())};
    return {r->status, r->body};
  }
  static double metric(const std::string& name) {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/metrics");
    const std::string text = r ? r->body : "";
    const std::size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
  }
  // Polls `done` every 10 ms for up to 4 s.
  static bool wait_for(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  static RunningServer* server_;
  static int port_;
};

RunningServer* OneSlotTest::server_ = nullptr;
int OneSlotTest::port_ = 0;

TEST_F(OneSlotTest, ChatUsesTheConfiguredTemplate) {
  const Tokenizer tok = Tokenizer::load_folder(kModel);
  const std::vector<ChatMessage> messages = {{"system", "Tell stories."}, {"user", "A story about a dog"}};
  const auto prompt = render_chat(find_chat_template("chatml"), messages, tok, true);
  const Reply chat = post("/v1/chat/completions",
                          json{{"messages", json::array({{{"role", "system"}, {"content", "Tell stories."}},
                                                         {{"role", "user"}, {"content", "A story about a dog"}}})},
                               {"max_tokens", 12},
                               {"temperature", 0}});
  ASSERT_EQ(chat.status, 200) << chat.body;
  EXPECT_EQ(chat.j()["usage"]["prompt_tokens"], prompt.size());
  // The same ids as a completion prompt give the same greedy text.
  const Reply completion = post("/v1/completions", json{{"prompt", prompt}, {"max_tokens", 12}, {"temperature", 0}});
  ASSERT_EQ(completion.status, 200) << completion.body;
  EXPECT_EQ(chat.j()["choices"][0]["message"]["content"], completion.j()["choices"][0]["text"]);
}

TEST_F(OneSlotTest, FullQueueAnswers503) {
  const double cancelled = metric("supra_cancelled_total");
  const double rejected = metric("supra_rejected_total");
  const int running = start_endless_stream(port_, "Once upon a time");
  ASSERT_GE(running, 0);
  const int queued = start_endless_stream(port_, "Once upon a time", false);
  ASSERT_GE(queued, 0);
  ASSERT_TRUE(wait_for([] { return metric("supra_queue_depth") == 1; }));
  // Beyond capacity, concurrently: both refused at once with the OpenAI error.
  const json body = {{"prompt", "Hello"}, {"max_tokens", 1}};
  auto a = std::async(std::launch::async, [&] { return post("/v1/completions", body); });
  auto b = std::async(std::launch::async, [&] { return post("/v1/completions", body); });
  for (const Reply& r : {a.get(), b.get()}) {
    ASSERT_EQ(r.status, 503) << r.body;
    const json e = r.j()["error"];
    EXPECT_EQ(e["code"], "server_busy");
    EXPECT_EQ(e["type"], "server_error");
    EXPECT_TRUE(e["message"].is_string());
  }
  EXPECT_EQ(metric("supra_rejected_total"), rejected + 2);
  ::close(running);
  ::close(queued);
  EXPECT_TRUE(wait_for([&] { return metric("supra_cancelled_total") == cancelled + 2; }));
}

TEST_F(OneSlotTest, DisconnectCancelsTheSequence) {
  const double cancelled = metric("supra_cancelled_total");
  const int fd = start_endless_stream(port_, "Once upon a time");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(metric("supra_active_sequences"), 1);
  ::close(fd);
  EXPECT_TRUE(wait_for([&] { return metric("supra_cancelled_total") == cancelled + 1; }));
  // The slot is free again: the next request runs (with one slot it could not otherwise).
  const Reply r = post("/v1/completions", json{{"prompt", "Hello"}, {"max_tokens", 4}});
  EXPECT_EQ(r.status, 200) << r.body;
}

// Stopping the server (SIGTERM in `supra serve`) must not wait for a long non-streaming
// generation: the scheduler ends it with an error and the HTTP threads can then return.
// A stop that comes while the listening thread is still starting is not lost (httplib's own
// stop does nothing until its listen loop runs; the loop would then accept for ever).
TEST(ServeShutdown, StopRightAfterTheListenStartsEnds) {
  ServerOptions o;
  o.port = 0;
  for (int i = 0; i < 50; ++i) {
    Server server(kModel, o);
    server.bind();
    auto listening = std::async(std::launch::async, [&] { server.listen(); });
    server.stop();
    ASSERT_EQ(listening.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "round " << i;
  }
}

TEST(ServeShutdown, StopEndsARunningGeneration) {
  ServerOptions o;
  o.port = 0;
  o.max_tokens = 1 << 24;
  Server server(kModel, o);
  const int port = server.bind();
  std::thread listener([&] { server.listen(); });
  auto reply = std::async(std::launch::async, [port] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    const json body = {{"prompt", "Once upon a time"}, {"max_tokens", 1 << 24}, {"temperature", 0}};
    auto r = c.Post("/v1/completions", body.dump(), "application/json");
    return r ? r->status : -1;
  });
  // Wait until the generation runs, then stop.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  for (;;) {
    httplib::Client c("127.0.0.1", port);
    auto m = c.Get("/metrics");
    if (m && m->body.find("\nsupra_active_sequences 1") != std::string::npos) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the generation never started";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto stop_start = std::chrono::steady_clock::now();
  server.stop();
  listener.join();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, std::chrono::seconds(5));
  ASSERT_EQ(reply.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_NE(reply.get(), 200);  // an error answer or a closed connection, never a hang
}

}  // namespace
}  // namespace supra::serve
