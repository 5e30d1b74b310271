// The chat page (GET /, src/serve/web) and what it relies on, in-process on the shipped model:
// the page's files are served without the API key, as HTML/JS/CSS with a Content-Security-Policy
// of the same origin only, and name no resource elsewhere; a conversation saved as a state
// (POST /v1/states with "messages") continues exactly as the whole conversation reads.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "running_server.h"
#include "supra/chat_template.h"
#include "supra/serve.h"
#include "supra/tokenizer.h"

namespace supra::serve {
namespace {

using nlohmann::json;
using test::kModel;
using test::RunningServer;

const std::string kKey = "page-test-key";

class PageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ServerOptions o;
    o.api_key = kKey;
    server_ = new RunningServer(o);
  }
  static void TearDownTestSuite() { delete server_; }

  static httplib::Client client(bool with_key) {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(30, 0);
    if (with_key) c.set_bearer_token_auth(kKey.c_str());
    return c;
  }
  static httplib::Result get(const std::string& path, bool with_key = false) { return client(with_key).Get(path); }
  static json post(const std::string& path, const json& body, int expected_status = 200) {
    auto r = client(true).Post(path, body.dump(), "application/json");
    EXPECT_TRUE(r) << path;
    if (!r) return json();
    EXPECT_EQ(r->status, expected_status) << path << " " << body.dump() << " -> " << r->body;
    return json::parse(r->body);
  }
  // The greedy reply to `messages`, continuing `state_id` when given.
  static std::string reply(const json& messages, const std::string& state_id = "") {
    json body = {{"messages", messages}, {"temperature", 0}, {"max_tokens", 24}};
    if (!state_id.empty()) body["state_id"] = state_id;
    return post("/v1/chat/completions", body)["choices"][0]["message"]["content"].get<std::string>();
  }

  static RunningServer* server_;
};
RunningServer* PageTest::server_ = nullptr;

void expect_page_headers(const httplib::Response& r, const std::string& type) {
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.get_header_value("Content-Type").rfind(type, 0), 0u) << r.get_header_value("Content-Type");
  const std::string csp = r.get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("http"), std::string::npos) << "no other origin: " << csp;
  EXPECT_EQ(r.get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(PageTest, PageIsServedWithoutTheKeyWithItsPolicy) {
  auto r = get("/");
  ASSERT_TRUE(r);
  expect_page_headers(*r, "text/html");
  EXPECT_NE(r->body.find("<!doctype html>"), std::string::npos);
  EXPECT_NE(r->body.find("<html lang=\"en\">"), std::string::npos);
  // The page is public; the API it calls is not.
  auto api = get("/v1/models");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 401);
  auto other = client(false).Post("/", "{}", "application/json");
  ASSERT_TRUE(other);
  EXPECT_GE(other->status, 400);
  EXPECT_NE(other->status, 401) << "only GET serves the page, with or without a key";
}

// Every src/href of the page is a path of this server, served with its type and the policy; the
// page has no inline script or style (the policy would block them) and no URL of another host.
TEST_F(PageTest, PageNamesOnlyItsOwnFiles) {
  auto page = get("/");
  ASSERT_TRUE(page);
  const std::regex reference(R"re((src|href)="([^"]*)")re");
  std::set<std::string> paths;
  for (std::sregex_iterator it(page->body.begin(), page->body.end(), reference), end; it != end; ++it) {
    const std::string target = (*it)[2];
    ASSERT_TRUE(target.size() > 1 && target[0] == '/' && target[1] != '/') << "not a path of this server: " << target;
    paths.insert(target);
  }
  EXPECT_EQ(paths, (std::set<std::string>{"/chat.css", "/chat.js", "/icon.svg"}));
  EXPECT_TRUE(std::regex_search(page->body, std::regex(R"(<script src="[^"]+" defer></script>)")));
  EXPECT_FALSE(std::regex_search(page->body, std::regex(R"(<script>|<script [^>]*>[^<]|<style|style=)")));
  for (const std::string& body : {page->body, get("/chat.js")->body, get("/chat.css")->body}) {
    EXPECT_EQ(body.find("http:"), std::string::npos);
    EXPECT_EQ(body.find("https:"), std::string::npos);
    EXPECT_EQ(body.find("url("), std::string::npos);
    EXPECT_EQ(body.find("@import"), std::string::npos);
  }
  const std::pair<const char*, const char*> files[] = {
      {"/chat.js", "text/javascript"}, {"/chat.css", "text/css"}, {"/icon.svg", "image/svg+xml"}};
  for (const auto& [path, type] : files) {
    auto r = get(path);
    ASSERT_TRUE(r) << path;
    expect_page_headers(*r, type);
    EXPECT_FALSE(r->body.empty()) << path;
  }
  auto missing = get("/chat.jsx");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401) << "a path that is not a page file is the API's, behind the key";
}

// A conversation saved as a state, then continued with `state_id` and only the new message,
// is answered as the whole conversation is; so is a chain of two saved states. The stored
// tokens are the whole conversation's, less the next user turn as rendered after a state.
TEST_F(PageTest, SavedConversationContinuesAsTheWhole) {
  const json system = {{"role", "system"}, {"content", "You tell stories."}};
  const json u1 = {{"role", "user"}, {"content", "Once upon a time"}};
  const json a1 = {{"role", "assistant"}, {"content", reply(json::array({system, u1}))}};
  const json u2 = {{"role", "user"}, {"content", "What happened next?"}};

  const json saved = post("/v1/states", {{"messages", json::array({system, u1, a1})}});
  const Tokenizer tokenizer = Tokenizer::load_folder(kModel);
  const auto& mistral = find_chat_template("mistral");
  const auto whole = render_chat(mistral, {{"system", system["content"]}, {"user", u1["content"]},
                                           {"assistant", a1["content"]}, {"user", u2["content"]}},
                                 tokenizer, true);
  const auto next = render_chat(mistral, {{"user", u2["content"]}}, tokenizer, false);
  EXPECT_EQ(saved["tokens"].get<std::size_t>(), whole.size() - next.size());

  const std::string a2 = reply(json::array({system, u1, a1, u2}));
  EXPECT_EQ(reply(json::array({u2}), saved["id"].get<std::string>()), a2);

  const json u3 = {{"role", "user"}, {"content", "And then?"}};
  const json a2_message = {{"role", "assistant"}, {"content", a2}};
  const json chained = post("/v1/states", {{"state_id", saved["id"]}, {"messages", json::array({u2, a2_message})}});
  EXPECT_EQ(reply(json::array({u3}), chained["id"].get<std::string>()),
            reply(json::array({system, u1, a1, u2, a2_message, u3})));
}

TEST_F(PageTest, BadConversationStatesAreRefused) {
  const json u = {{"role", "user"}, {"content", "Hi"}};
  const json a = {{"role", "assistant"}, {"content", "Hello."}};
  EXPECT_EQ(post("/v1/states", {{"messages", json::array({u})}}, 400)["error"]["param"], "messages");
  EXPECT_EQ(post("/v1/states", {{"messages", json::array()}}, 400)["error"]["param"], "messages");
  EXPECT_EQ(post("/v1/states", {{"messages", "Hi"}}, 400)["error"]["param"], "messages");
  EXPECT_EQ(post("/v1/states", {{"messages", json::array({a, u, a})}}, 400)["error"]["param"], "messages");
  EXPECT_EQ(post("/v1/states", {{"messages", json::array({u, a})}, {"prompt", "x"}}, 400)["error"]["param"], "prompt");
  EXPECT_EQ(post("/v1/states", {{"messages", json::array({u, a})}, {"state_id", 5}}, 400)["error"]["param"], "state_id");
  EXPECT_EQ(post("/v1/states", {{"messages", json::array({u, a})}, {"state_id", "nope"}}, 404)["error"]["code"], "state_not_found");
}

// chatml tokenizes a whole conversation as one text: a saved one would not continue as the
// whole reads, so saving is refused with the reason rather than stored inexactly.
TEST(PageTemplates, OneTextTemplateRefusesToSaveAConversation) {
  ServerOptions o;
  o.chat_template = "chatml";
  RunningServer server(o);
  httplib::Client c("127.0.0.1", server.port());
  const json u = {{"role", "user"}, {"content", "Hi"}};
  const json a = {{"role", "assistant"}, {"content", "Hello."}};
  const json body = {{"messages", json::array({u, a})}};
  auto r = c.Post("/v1/states", body.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("mistral and llama2"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace supra::serve
