// The server's routes beyond generation (issue 18): continuing a state with text joins it to the
// state's text (checked against tokenizing the joined text with the shipped model's and
// Mistral's tokenizers), GET /v1/models/{id} and unknown model names, 405 with Allow for a known
// path asked with another method, CORS behind --cors-origin, /tokenize and /detokenize in
// llama.cpp's shapes, and the latency histograms of /metrics in Prometheus' format.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "running_server.h"
#include "serve/continuation.h"
#include "supra/serve.h"
#include "supra/tokenizer.h"
#include "test_support.h"

namespace supra::serve {
namespace {

using nlohmann::json;
using test::kModel;
using test::RunningServer;

const std::string kKey = "routes-key";
const std::string kOrigin = "http://app.example:3000";

struct Reply {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  json j() const { return json::parse(body); }
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

Reply reply_of(const httplib::Result& r) {
  if (!r) return {-1, "no response: " + httplib::to_string(r.error()), {}};
  return {r->status, r->body, r->headers};
}

// ---- Continuing a state with text (bug 4) ----

std::vector<TokenId> tail(const std::vector<TokenId>& ids, std::size_t from) {
  return {ids.begin() + static_cast<std::ptrdiff_t>(from), ids.end()};
}

bool starts_with(const std::vector<TokenId>& ids, const std::vector<TokenId>& prefix) {
  return ids.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), ids.begin());
}

// For each (state text, continuation) whose state ids are a prefix of the joined text's ids, the
// continuation is exactly the joined text's remaining ids; the cases listed as joinable must be.
void expect_joined_tokens(const Tokenizer& tokenizer) {
  struct Case {
    std::string state, text;
    bool joinable;
  };
  const std::vector<Case> cases = {
      {"Once upon a time", ",", true},          {"Once upon a time", " there was", true},
      {"Hello", " world!", true},               {"The cat", "s sat.", false},
      {"1, 2", ", 3", true},                    {"She said", ": \"hi\"", true},
      {"Lily was happy", ".\n\nThe end", true}, {"caf", "é", false},
  };
  for (const Case& c : cases) {
    const std::vector<TokenId> stored = tokenizer.encode(c.state);
    const std::vector<TokenId> joined = tokenizer.encode(c.state + c.text);
    const std::vector<TokenId> got = continuation_ids(tokenizer, stored, c.text);
    if (starts_with(joined, stored) && joined.size() > stored.size()) {
      EXPECT_EQ(got, tail(joined, stored.size())) << c.state << " + " << c.text;
    } else {
      EXPECT_FALSE(c.joinable) << c.state << " + " << c.text << " should join";
      EXPECT_EQ(got, tokenizer.encode(c.text, false)) << c.state << " + " << c.text;  // the documented fallback
    }
  }
  // The case: "," alone is a space piece and a comma; after the state it is the comma.
  const std::vector<TokenId> state = tokenizer.encode("Once upon a time");
  EXPECT_EQ(continuation_ids(tokenizer, state, ","), tail(tokenizer.encode("Once upon a time,"), state.size()));
  EXPECT_NE(continuation_ids(tokenizer, state, ","), tokenizer.encode(",", false));
}

TEST(Continuation, GivesTheJoinedTextsTokensWithTheShippedTokenizer) {
  expect_joined_tokens(Tokenizer::load_folder(kModel));
}

TEST(Continuation, GivesTheJoinedTextsTokensWithMistralsTokenizer) {
  expect_joined_tokens(Tokenizer::load_model_file(supra::test::data_dir() / "tokenizer" / "mistral-7b-v0.1.model"));
}

TEST(Continuation, FallsBackWhenJoiningResegmentsTheState) {
  const Tokenizer t = Tokenizer::load_model_file(supra::test::data_dir() / "tokenizer" / "mistral-7b-v0.1.model");
  // "ti" + "me" is "▁time" when joined: the stored "▁ti" cannot be taken back.
  const std::vector<TokenId> stored = t.encode("Once upon a ti");
  ASSERT_FALSE(starts_with(t.encode("Once upon a time"), stored));
  EXPECT_EQ(continuation_ids(t, stored, "me"), t.encode("me", false));
  // A state made of ids that are not how their text tokenizes: the ids of "▁Once" spelled
  // piece by piece decode to "Once", which tokenizes as one piece.
  std::vector<TokenId> spelled = {t.bos_id()};
  const auto vocabulary = t.vocabulary();
  for (const std::string piece : {"\u2581O", "n", "ce"}) {
    const auto it = std::ranges::find(vocabulary, piece, &Tokenizer::VocabEntry::piece);
    ASSERT_NE(it, vocabulary.end()) << piece;
    spelled.push_back(static_cast<TokenId>(it - vocabulary.begin()));
  }
  ASSERT_FALSE(starts_with(t.encode("Once,"), spelled));
  EXPECT_EQ(continuation_ids(t, spelled, ","), t.encode(",", false));
}

// ---- The server ----

class RoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions o;
    o.api_key = kKey;
    o.model_name = "tiny-stories";
    o.cors_origins = {kOrigin};
    cors_ = new RunningServer(o);
    plain_ = new RunningServer(ServerOptions{});
    tokenizer_ = new Tokenizer(Tokenizer::load_folder(kModel));
  }
  static void TearDownTestSuite() {
    delete cors_;
    delete plain_;
    delete tokenizer_;
  }

  // A request to the server with --cors-origin and --api-key (with the key unless `with_key` is
  // false), or to the plain one.
  static Reply send(const std::string& method, const std::string& path, const std::string& body = "",
                    httplib::Headers headers = {}, bool plain = false, bool with_key = true) {
    httplib::Client c("127.0.0.1", plain ? plain_->port() : cors_->port());
    c.set_read_timeout(30, 0);
    if (!plain && with_key) headers.emplace("Authorization", "Bearer " + kKey);
    httplib::Request req;
    req.method = method;
    req.path = path;
    req.headers = std::move(headers);
    if (!body.empty()) {
      req.body = body;
      req.set_header("Content-Type", "application/json");
    }
    return reply_of(c.send(req));
  }
  static Reply post(const std::string& path, const json& body, bool plain = false) {
    return send("POST", path, body.dump(), {}, plain);
  }

  static RunningServer* cors_;
  static RunningServer* plain_;
  static Tokenizer* tokenizer_;
};

RunningServer* RoutesTest::cors_ = nullptr;
RunningServer* RoutesTest::plain_ = nullptr;
Tokenizer* RoutesTest::tokenizer_ = nullptr;

TEST_F(RoutesTest, StateContinuedWithTextReadsAsTheJoinedPrompt) {
  const Reply made = post("/v1/states", {{"prompt", "Once upon a time"}});
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string id = made.j()["id"];
  // The state extended by "," holds the ids of the joined text, not " ,".
  const Reply longer = post("/v1/states", {{"state_id", id}, {"prompt", ","}});
  ASSERT_EQ(longer.status, 200) << longer.body;
  EXPECT_EQ(longer.j()["tokens"], tokenizer_->encode("Once upon a time,").size());

  const json greedy = {{"max_tokens", 12}, {"temperature", 0}};
  json continued = greedy, fresh = greedy;
  continued["state_id"] = id;
  continued["prompt"] = ",";
  fresh["prompt"] = "Once upon a time,";
  const Reply a = post("/v1/completions", continued), b = post("/v1/completions", fresh);
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(a.j()["usage"]["prompt_tokens"], 1);
  EXPECT_EQ(a.j()["choices"][0]["text"], b.j()["choices"][0]["text"]);
  // Echoed, the continuation reads ",", not " ,".
  continued["echo"] = true;
  continued["max_tokens"] = 0;
  const Reply echoed = post("/v1/completions", continued);
  ASSERT_EQ(echoed.status, 200) << echoed.body;
  EXPECT_EQ(echoed.j()["choices"][0]["text"], ",");
}

TEST_F(RoutesTest, ModelsById) {
  const Reply listed = send("GET", "/v1/models");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.j()["data"][0]["id"], "tiny-stories");
  const Reply one = send("GET", "/v1/models/tiny-stories");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.j(), (json{{"id", "tiny-stories"}, {"object", "model"}, {"created", 0}, {"owned_by", "supra"}}));
  // The folder's name is accepted as well; the object keeps the served id.
  EXPECT_EQ(send("GET", "/v1/models/stories260K").j()["id"], "tiny-stories");
  const Reply other = send("GET", "/v1/models/gpt-4o");
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.j()["error"]["code"], "model_not_found");
  EXPECT_EQ(other.j()["error"]["param"], "model");
}

TEST_F(RoutesTest, RequestsNamingAnotherModelGet404) {
  const json base = {{"prompt", "Hi"}, {"max_tokens", 1}};
  for (const char* name : {"gpt-3.5-turbo-instruct", "tiny", ""}) {
    json body = base;
    body["model"] = name;
    const Reply r = post("/v1/completions", body);
    EXPECT_EQ(r.status, 404) << name;
    EXPECT_EQ(r.j()["error"]["code"], "model_not_found") << r.body;
  }
  const Reply chat = post("/v1/chat/completions", {{"model", "gpt-4o"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}});
  EXPECT_EQ(chat.status, 404) << chat.body;
  for (const json& model : {json("tiny-stories"), json("stories260K"), json(nullptr)}) {
    json body = base;
    body["model"] = model;
    EXPECT_EQ(post("/v1/completions", body).status, 200) << model;
  }
  EXPECT_EQ(post("/v1/completions", base).status, 200);  // no model at all
  // The plain server's id is the folder's name.
  json plain = base;
  plain["model"] = "stories260K";
  EXPECT_EQ(post("/v1/completions", plain, true).status, 200);
}

TEST_F(RoutesTest, WrongMethodOnAKnownPathIs405WithAllow) {
  const std::map<std::string, std::string> allowed = {
      {"/", "GET, HEAD"},
      {"/health", "GET, HEAD"},
      {"/metrics", "GET, HEAD"},
      {"/v1/models", "GET, HEAD"},
      {"/v1/models/tiny-stories", "GET, HEAD"},
      {"/v1/completions", "POST"},
      {"/v1/chat/completions", "POST"},
      {"/tokenize", "POST"},
      {"/detokenize", "POST"},
      {"/v1/states", "GET, HEAD, POST"},
      {"/v1/states/import", "POST"},
      {"/v1/states/state-0123", "GET, HEAD, DELETE"},
      {"/v1/states/state-0123/fork", "POST"},
      {"/v1/states/state-0123/export", "GET, HEAD"},
  };
  for (const auto& [path, methods] : allowed) {
    for (const std::string method : {"GET", "POST", "DELETE", "PUT", "PATCH"}) {
      if (methods.find(method) != std::string::npos) continue;
      // GET and DELETE of /v1/states/import reach the state-id routes (no state has that id).
      if (path == "/v1/states/import" && (method == "GET" || method == "DELETE")) continue;
      const Reply r = send(method, path, method == "GET" || method == "DELETE" ? "" : "{}");
      EXPECT_EQ(r.status, 405) << method << ' ' << path << ": " << r.body;
      EXPECT_EQ(r.header("Allow"), methods) << method << ' ' << path;
      ASSERT_NO_THROW((void)r.j()) << r.body;
      EXPECT_EQ(r.j()["error"]["code"], "http_405");
      EXPECT_EQ(r.j()["error"]["type"], "invalid_request_error");
    }
  }
  EXPECT_EQ(send("POST", "/v1/nothing", "{}").status, 404);
  EXPECT_EQ(send("GET", "/v1/completion").status, 404);
  // Without --cors-origin an OPTIONS request is just another method.
  const Reply options = send("OPTIONS", "/v1/completions", "", {}, true);
  EXPECT_EQ(options.status, 405);
  EXPECT_EQ(options.header("Allow"), "POST");
}

// A POST with neither Content-Length nor Transfer-Encoding has no body; one that no route takes
// is answered at once, not after a wait for a body until the read deadline (10 s, then 408).
TEST_F(RoutesTest, RequestsNoRouteTakesAreAnsweredWithoutWaitingForABody) {
  for (const auto& [path, status] : std::map<std::string, std::string>{{"/health", "405"}, {"/v1/nothing", "404"}, {"/", "405"}}) {
    const int fd = test::connect_to(plain_->port());  // reads give up after 5 s
    ASSERT_GE(fd, 0);
    const std::string request = "POST " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ::close(fd);
    ASSERT_GT(n, 0) << path << ": no answer within 5 s";
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)).substr(0, 12), "HTTP/1.1 " + status) << path;
  }
}

TEST_F(RoutesTest, CorsPreflightNeedsNoKeyAndAllowsTheAskedHeaders) {
  const Reply pre = send("OPTIONS", "/v1/chat/completions", "",
                         {{"Origin", kOrigin},
                          {"Access-Control-Request-Method", "POST"},
                          {"Access-Control-Request-Headers", "authorization, content-type, x-stainless-os"}},
                         false, false);
  EXPECT_EQ(pre.status, 204) << pre.body;
  EXPECT_EQ(pre.header("Access-Control-Allow-Origin"), kOrigin);
  EXPECT_EQ(pre.header("Access-Control-Allow-Methods"), "POST");
  const std::string headers = pre.header("Access-Control-Allow-Headers");
  for (const char* h : {"Authorization", "Content-Type", "x-stainless-os"})
    EXPECT_NE(headers.find(h), std::string::npos) << headers;
  EXPECT_EQ(pre.header("Vary"), "Origin");

  // Answers carry the origin for pages of it, errors included; other origins get nothing.
  const Reply ok = send("GET", "/v1/models", "", {{"Origin", kOrigin}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("Access-Control-Allow-Origin"), kOrigin);
  const Reply unauthorized = send("GET", "/v1/models", "", {{"Origin", kOrigin}}, false, false);
  EXPECT_EQ(unauthorized.status, 401);
  EXPECT_EQ(unauthorized.header("Access-Control-Allow-Origin"), kOrigin);
  const Reply stranger = send("GET", "/v1/models", "", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(stranger.status, 200);
  EXPECT_EQ(stranger.header("Access-Control-Allow-Origin"), "");
  const Reply stranger_pre = send("OPTIONS", "/v1/completions", "",
                                  {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}}, false, false);
  EXPECT_EQ(stranger_pre.header("Access-Control-Allow-Origin"), "");
  EXPECT_EQ(stranger_pre.header("Access-Control-Allow-Methods"), "");

  // Without the flag: no CORS headers at all.
  EXPECT_EQ(send("GET", "/v1/models", "", {{"Origin", kOrigin}}, true).header("Access-Control-Allow-Origin"), "");
  const Reply plain_pre = send("OPTIONS", "/v1/completions", "",
                               {{"Origin", kOrigin}, {"Access-Control-Request-Method", "POST"}}, true);
  EXPECT_EQ(plain_pre.status, 405);
  EXPECT_EQ(plain_pre.header("Access-Control-Allow-Origin"), "");
}

TEST_F(RoutesTest, CorsAnyOrigin) {
  ServerOptions o;
  o.cors_origins = {"*"};
  RunningServer any(o);
  httplib::Client c("127.0.0.1", any.port());
  const auto r = c.Get("/health", {{"Origin", "http://anything.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_FALSE(r->has_header("Vary"));
}

TEST_F(RoutesTest, TokenizeAndDetokenizeInLlamaCppsShapes) {
  const std::string text = "Once upon a time, a cat\nsaw é 🤗";
  const Reply plain = post("/tokenize", {{"content", text}});
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_EQ(plain.j(), (json{{"tokens", tokenizer_->encode(text, false)}}));
  const Reply special = post("/tokenize", {{"content", text}, {"add_special", true}});
  EXPECT_EQ(special.j()["tokens"], tokenizer_->encode(text, true));
  EXPECT_EQ(special.j()["tokens"][0], tokenizer_->bos_id());

  const Reply pieces = post("/tokenize", {{"content", text}, {"with_pieces", true}});
  ASSERT_EQ(pieces.status, 200) << pieces.body;
  std::string spelled;
  bool saw_bytes = false;
  const auto ids = tokenizer_->encode(text, false);
  const json listed = pieces.j()["tokens"];
  ASSERT_EQ(listed.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const json& t = listed[i];
    EXPECT_EQ(t["id"], ids[i]);
    if (t["piece"].is_string()) {
      spelled += t["piece"].get<std::string>();
    } else {  // a byte that is not UTF-8 on its own
      saw_bytes = true;
      for (const auto& b : t["piece"]) spelled += static_cast<char>(b.get<int>());
    }
  }
  EXPECT_EQ(spelled, " " + text);  // the pieces spell the text after SentencePiece's leading space
  EXPECT_TRUE(saw_bytes) << "🤗 should be byte pieces in the shipped 512-piece vocabulary";

  const Reply back = post("/detokenize", {{"tokens", ids}});
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(back.j(), (json{{"content", text}}));
  EXPECT_EQ(post("/detokenize", {{"tokens", json::array()}}).j()["content"], "");

  const int vocab = tokenizer_->vocab_size();
  for (const json& bad : {json{{"tokens", {1, -1}}}, json{{"tokens", {vocab}}}, json{{"tokens", {"1"}}},
                          json{{"tokens", 5}}, json{{"tokens", {1.5}}}, json{{"tokens", {18446744073709551615ull}}},
                          json::object()}) {
    const Reply r = post("/detokenize", bad);
    EXPECT_EQ(r.status, 400) << bad.dump();
    EXPECT_EQ(r.j()["error"]["param"], "tokens") << r.body;
  }
  for (const json& bad : {json::object(), json{{"content", 5}}, json{{"content", "x"}, {"with_pieces", "yes"}},
                          json{{"content", "x"}, {"add_special", 1}}}) {
    const Reply r = post("/tokenize", bad);
    EXPECT_EQ(r.status, 400) << bad.dump();
  }
  EXPECT_EQ(send("POST", "/tokenize", "{not json").status, 400);
}

// One histogram of a Prometheus text exposition: its buckets in order, _sum and _count.
struct ParsedHistogram {
  std::vector<std::pair<std::string, double>> buckets;  // le, cumulative count
  double sum = -1, count = -1;
  std::string type;
};

ParsedHistogram parse_histogram(const std::string& text, const std::string& name) {
  ParsedHistogram h;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE " + name + " ", 0) == 0) h.type = line.substr(8 + name.size());
    if (line.rfind(name + "_bucket{le=\"", 0) == 0) {
      const std::size_t open = name.size() + 12, close = line.find("\"}", open);
      h.buckets.emplace_back(line.substr(open, close - open), std::stod(line.substr(close + 3)));
    } else if (line.rfind(name + "_sum ", 0) == 0) {
      h.sum = std::stod(line.substr(name.size() + 5));
    } else if (line.rfind(name + "_count ", 0) == 0) {
      h.count = std::stod(line.substr(name.size() + 7));
    }
  }
  return h;
}

TEST_F(RoutesTest, MetricsHistogramsFollowPrometheusConventions) {
  constexpr int kRequests = 3, kTokens = 5;
  for (int i = 0; i < kRequests; ++i)
    ASSERT_EQ(post("/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", kTokens}, {"temperature", 0},
                                       {"seed", i}}, true)
                  .status,
              200);
  const Reply m = send("GET", "/metrics", "", {}, true);
  ASSERT_EQ(m.status, 200);
  // Each completion observes one queue time, first token and end-to-end time, and a time per
  // token after the first (at least one each unless EOS came first).
  for (const std::string name : {"supra_time_to_first_token_seconds", "supra_time_per_output_token_seconds",
                                 "supra_request_queue_time_seconds", "supra_e2e_request_latency_seconds"}) {
    const ParsedHistogram h = parse_histogram(m.body, name);
    EXPECT_EQ(h.type, "histogram") << name;
    ASSERT_GE(h.buckets.size(), 2u) << name;
    EXPECT_EQ(h.buckets.back().first, "+Inf") << name;
    for (std::size_t i = 1; i < h.buckets.size(); ++i) {
      EXPECT_GE(h.buckets[i].second, h.buckets[i - 1].second) << name << " le=" << h.buckets[i].first;
      if (i + 1 < h.buckets.size()) {
        EXPECT_LT(std::stod(h.buckets[i - 1].first), std::stod(h.buckets[i].first)) << name;
      }
    }
    EXPECT_EQ(h.count, h.buckets.back().second) << name;
    EXPECT_GE(h.count, kRequests) << name;
    EXPECT_GT(h.sum, 0) << name;
  }
}

}  // namespace
}  // namespace supra::serve
