// The stored states of the states API (docs/SERVE.md, "Stored states"): their metadata
// (GET /v1/states/{id}), the first token of a continuation scored with echo + logprobs, the
// memory and disk budgets (507), the TTL, `--state-dir` (states written before they are
// acknowledged, read back after a restart, damaged or foreign files in the folder), and a real
// `supra serve` killed with SIGKILL during a burst of creates, restarted on the same folder.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "running_server.h"
#include "supra/serve.h"
#include "file_builders.h"
#include "supra/error.h"
#include "supra/tokenizer.h"
#include "test_support.h"

namespace supra::serve {
namespace {

using nlohmann::json;
using test::kModel;
using test::RunningServer;
namespace fs = std::filesystem;

struct Reply {
  int status = 0;  // -1: no answer (connection refused or cut)
  std::string body;
  json j() const { return json::parse(body); }
};

Reply send(int port, const std::string& method, const std::string& path, const std::string& body = {},
           const std::string& type = "application/json") {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  httplib::Result r = method == "GET"      ? c.Get(path)
                      : method == "DELETE" ? c.Delete(path)
                                           : c.Post(path, body, type);
  if (!r) return {-1, {}};
  return {r->status, r->body};
}
Reply post(int port, const std::string& path, const json& body) { return send(port, "POST", path, body.dump()); }
Reply get(int port, const std::string& path) { return send(port, "GET", path); }

const Tokenizer& tokenizer() {
  static const Tokenizer t = Tokenizer::load_folder(kModel);
  return t;
}
std::vector<TokenId> tokens_of(const std::string& text, bool bos) { return tokenizer().encode(text, bos); }

std::string create(int port, const std::vector<TokenId>& tokens) {
  const Reply r = post(port, "/v1/states", json{{"tokens", tokens}});
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? r.j()["id"].get<std::string>() : std::string();
}

// The greedy continuation of a stored state by `more` tokens (or the error body).
std::string continue_greedy(int port, const std::string& id, const std::vector<TokenId>& more) {
  const Reply r = post(port, "/v1/completions",
                       json{{"prompt", more}, {"state_id", id}, {"max_tokens", 12}, {"temperature", 0}});
  return r.status == 200 ? r.j()["choices"][0]["text"].get<std::string>() : "HTTP " + std::to_string(r.status) + r.body;
}
std::string complete_greedy(int port, const std::vector<TokenId>& prompt) {
  const Reply r = post(port, "/v1/completions", json{{"prompt", prompt}, {"max_tokens", 12}, {"temperature", 0}});
  return r.status == 200 ? r.j()["choices"][0]["text"].get<std::string>() : "HTTP " + std::to_string(r.status) + r.body;
}

std::set<std::string> listed(int port) {
  std::set<std::string> ids;
  const json list = get(port, "/v1/states").j();  // held: a range-for over a temporary's member dangles
  for (const auto& s : list["data"]) ids.insert(s["id"].get<std::string>());
  return ids;
}

const std::vector<TokenId> kMore = tokens_of("there was a little", false);

// echo + logprobs of `more` after the state `id`: the token_logprobs array.
json echoed_logprobs(int port, const std::string& id, const std::vector<TokenId>& more) {
  const Reply r = post(port, "/v1/completions",
                       json{{"prompt", more}, {"state_id", id}, {"echo", true}, {"logprobs", 1}, {"max_tokens", 0}});
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? r.j()["choices"][0]["logprobs"]["token_logprobs"] : json();
}

TEST(ServeStates, EchoedContinuationScoresItsFirstToken) {
  RunningServer server{ServerOptions{}};
  const int port = server.port();
  const auto first = tokens_of("Once upon a time,", true);
  const std::string id = create(port, first);
  // The same tokens echoed from scratch: the logprob of kMore[0] there is what the state predicts.
  auto all = first;
  all.insert(all.end(), kMore.begin(), kMore.end());
  const Reply fresh = post(port, "/v1/completions", json{{"prompt", all}, {"echo", true}, {"logprobs", 1}, {"max_tokens", 0}});
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  const json expected = fresh.j()["choices"][0]["logprobs"]["token_logprobs"];
  ASSERT_EQ(expected.size(), all.size());

  const auto check = [&](const std::string& state, const char* how) {
    const json got = echoed_logprobs(port, state, kMore);
    ASSERT_EQ(got.size(), kMore.size()) << how;
    for (std::size_t i = 0; i < kMore.size(); ++i) {
      ASSERT_TRUE(got[i].is_number()) << how << ": token " << i << " has no logprob";
      EXPECT_NEAR(got[i].get<double>(), expected[first.size() + i].get<double>(), 1e-3) << how << ": token " << i;
    }
  };
  check(id, "created");
  const Reply fork = send(port, "POST", "/v1/states/" + id + "/fork");
  ASSERT_EQ(fork.status, 200) << fork.body;
  check(fork.j()["id"], "forked");
  // The logits travel in the state file: an imported state scores its first token too.
  const Reply exported = get(port, "/v1/states/" + id + "/export");
  ASSERT_EQ(exported.status, 200);
  const Reply imported = send(port, "POST", "/v1/states/import", exported.body, "application/octet-stream");
  ASSERT_EQ(imported.status, 200) << imported.body;
  check(imported.j()["id"], "imported");
  // A state extended through POST /v1/states keeps the logits of its new last token.
  const Reply extended = post(port, "/v1/states", json{{"tokens", std::vector<TokenId>{kMore[0]}}, {"state_id", id}});
  ASSERT_EQ(extended.status, 200) << extended.body;
  const json rest = echoed_logprobs(port, extended.j()["id"], std::vector<TokenId>(kMore.begin() + 1, kMore.end()));
  ASSERT_TRUE(rest[0].is_number());
  EXPECT_NEAR(rest[0].get<double>(), expected[first.size() + 1].get<double>(), 1e-3);
}

// Version 1 files (no logits) still import, and score nothing for the first echoed token; a
// version 2 file with a wrong logit count or a NaN logit is refused.
TEST(ServeStates, StateFileLogitsSection) {
  RunningServer server{ServerOptions{}};
  const int port = server.port();
  const std::string id = create(port, tokens_of("Once upon a time,", true));
  const std::string v2 = get(port, "/v1/states/" + id + "/export").body;
  const std::size_t vocab = static_cast<std::size_t>(tokenizer().vocab_size());
  const std::size_t logits_at = v2.size() - 4 - 4 * vocab - 4;  // count, logits, checksum
  std::uint32_t count = 0;
  std::memcpy(&count, v2.data() + logits_at, 4);
  ASSERT_EQ(count, vocab);
  const auto with_checksum = [](std::string body) {
    const std::uint32_t crc = supra::test::crc32(body);
    return body.append(reinterpret_cast<const char*>(&crc), 4);
  };
  const auto import = [&](const std::string& bytes) {
    return send(port, "POST", "/v1/states/import", bytes, "application/octet-stream");
  };
  std::string v1 = v2.substr(0, logits_at);
  v1[8] = 1;
  const Reply old = import(with_checksum(v1));
  ASSERT_EQ(old.status, 200) << old.body;
  EXPECT_TRUE(echoed_logprobs(port, old.j()["id"], kMore)[0].is_null());

  std::string wrong_count = v2.substr(0, v2.size() - 4);
  wrong_count[logits_at] ^= 1;
  const Reply refused = import(with_checksum(wrong_count));
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("logit count"), std::string::npos) << refused.body;
  std::string nan = v2.substr(0, v2.size() - 4);
  const float bad = std::nanf("");
  std::memcpy(nan.data() + logits_at + 4 + 8, &bad, 4);
  EXPECT_EQ(import(with_checksum(nan)).status, 400);
}

TEST(ServeStates, MetadataOfOneState) {
  ServerOptions o;
  o.model_name = "tiny";
  RunningServer server{o};
  const int port = server.port();
  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  const auto tokens = tokens_of("Once upon a time", true);
  const std::string id = create(port, tokens);
  const Reply r = get(port, "/v1/states/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = r.j();
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["object"], "state");
  EXPECT_EQ(j["tokens"], tokens.size());
  EXPECT_EQ(j["position"], tokens.size());
  EXPECT_GT(j["bytes"].get<std::size_t>(), 0u);
  EXPECT_GE(j["created"].get<std::int64_t>(), before);
  EXPECT_LE(j["created"].get<std::int64_t>(), before + 60);
  EXPECT_TRUE(j["expires_at"].is_null());
  EXPECT_EQ(j["model"], "tiny");
  // The same object in the list and in the create answer.
  EXPECT_EQ(get(port, "/v1/states").j()["data"][0], j);

  const Reply missing = get(port, "/v1/states/state-0000000000000000");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.j()["error"]["code"], "state_not_found");
  ASSERT_EQ(send(port, "DELETE", "/v1/states/" + id).status, 200);
  EXPECT_EQ(get(port, "/v1/states/" + id).status, 404);
}

TEST(ServeStates, StatesExpireAfterTheirTtl) {
  ServerOptions o;
  o.state_ttl_seconds = 1;
  RunningServer server{o};
  const int port = server.port();
  const std::string id = create(port, tokens_of("Once upon a time", true));
  const json j = get(port, "/v1/states/" + id).j();
  ASSERT_TRUE(j["expires_at"].is_number()) << j;
  EXPECT_GE(j["expires_at"].get<std::int64_t>(), j["created"].get<std::int64_t>() + 1);
  EXPECT_LE(j["expires_at"].get<std::int64_t>(), j["created"].get<std::int64_t>() + 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(get(port, "/v1/states/" + id).status, 404);
  EXPECT_TRUE(listed(port).empty());
  EXPECT_NE(continue_greedy(port, id, kMore).find("HTTP 404"), std::string::npos);
}

// A full memory budget refuses new states with 507 in OpenAI's error shape; deleting frees it.
TEST(ServeStates, FullMemoryBudgetIs507) {
  ServerOptions o;
  o.state_memory_bytes = 20000;  // two states of this model (6400 floats' bytes, 2 KiB of logits, tokens)
  RunningServer server{o};
  const int port = server.port();
  const auto tokens = tokens_of("Once upon a time", true);
  const std::string a = create(port, tokens), b = create(port, tokens);
  const Reply full = post(port, "/v1/states", json{{"tokens", tokens}});
  ASSERT_EQ(full.status, 507) << full.body;
  EXPECT_EQ(full.j()["error"]["code"], "state_storage_full");
  EXPECT_EQ(full.j()["error"]["type"], "server_error");
  EXPECT_NE(full.j()["error"]["message"].get<std::string>().find("memory"), std::string::npos);
  EXPECT_EQ(send(port, "POST", "/v1/states/" + a + "/fork").status, 507);
  ASSERT_EQ(send(port, "DELETE", "/v1/states/" + a).status, 200);
  EXPECT_EQ(post(port, "/v1/states", json{{"tokens", tokens}}).status, 200);
}

std::size_t files_in(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

// Created, forked and imported states come back after a restart on the same folder, and continue
// as before; a deleted one does not. Memory only caches them: more states than it holds work.
TEST(ServeStates, StateDirKeepsStatesAcrossRestarts) {
  supra::test::TempDir dir;
  ServerOptions o;
  o.state_dir = dir.path().string();
  o.state_memory_bytes = 10000;  // one state in memory: the others are read back from their files
  std::map<std::string, std::string> expected;  // id -> greedy continuation
  std::string deleted;
  std::string exported;
  {
    RunningServer server{o};
    const int port = server.port();
    const std::string a = create(port, tokens_of("Once upon a time,", true));
    const std::string b = create(port, tokens_of("The cat sat", true));
    const Reply fork = send(port, "POST", "/v1/states/" + a + "/fork");
    ASSERT_EQ(fork.status, 200);
    exported = get(port, "/v1/states/" + b + "/export").body;
    const Reply imported = send(port, "POST", "/v1/states/import", exported, "application/octet-stream");
    ASSERT_EQ(imported.status, 200);
    deleted = create(port, tokens_of("Lily", true));
    for (const std::string& id : {a, b, fork.j()["id"].get<std::string>(), imported.j()["id"].get<std::string>()})
      expected[id] = continue_greedy(port, id, kMore);
    EXPECT_EQ(files_in(dir.path()), 5u);
    ASSERT_EQ(send(port, "DELETE", "/v1/states/" + deleted).status, 200);
    EXPECT_EQ(files_in(dir.path()), 4u);
  }
  RunningServer restarted{o};
  const int port = restarted.port();
  std::set<std::string> ids;
  for (const auto& [id, text] : expected) ids.insert(id);
  EXPECT_EQ(listed(port), ids);
  for (const auto& [id, text] : expected) {
    EXPECT_EQ(continue_greedy(port, id, kMore), text) << id;
    EXPECT_EQ(get(port, "/v1/states/" + id).status, 200);
  }
  EXPECT_EQ(get(port, "/v1/states/" + deleted).status, 404);
}

TEST(ServeStates, FullDiskBudgetIs507) {
  supra::test::TempDir dir;
  ServerOptions o;
  o.state_dir = dir.path().string();
  o.state_disk_bytes = 20000;  // two state files of this model
  RunningServer server{o};
  const int port = server.port();
  const auto tokens = tokens_of("Once upon a time", true);
  create(port, tokens);
  create(port, tokens);
  const Reply full = post(port, "/v1/states", json{{"tokens", tokens}});
  ASSERT_EQ(full.status, 507) << full.body;
  EXPECT_NE(full.j()["error"]["message"].get<std::string>().find("disk"), std::string::npos);
  EXPECT_EQ(files_in(dir.path()), 2u);
}

// What a crash or a person may leave in the folder: a torn write's temporary file, a truncated
// state, a flipped byte, an unrelated file. None is read as a state; the server starts with the
// intact ones. A state of another model refuses the start, naming the folder.
TEST(ServeStates, StateDirSkipsDamagedFilesAndRefusesAnotherModel) {
  supra::test::TempDir dir;
  ServerOptions o;
  o.state_dir = dir.path().string();
  std::string good_id, bytes;
  {
    RunningServer server{o};
    good_id = create(server.port(), tokens_of("Once upon a time", true));
    bytes = get(server.port(), "/v1/states/" + good_id + "/export").body;
  }
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x10;
  supra::test::write_file(dir.path() / "state-00000000000000a1.state", bytes.substr(0, bytes.size() / 2));
  supra::test::write_file(dir.path() / "state-00000000000000a2.state", flipped);
  supra::test::write_file(dir.path() / "state-00000000000000a3.state.tmp.123.abcd", bytes);
  supra::test::write_file(dir.path() / "notes.txt", "not a state");
  {
    RunningServer server{o};
    EXPECT_EQ(listed(server.port()), std::set<std::string>{good_id});
    EXPECT_FALSE(fs::exists(dir.path() / "state-00000000000000a3.state.tmp.123.abcd"));
    EXPECT_TRUE(fs::exists(dir.path() / "notes.txt"));
  }
  // A state of the other shipped model (another architecture) in this model's folder.
  supra::test::TempDir other_dir;
  ServerOptions other = o;
  other.state_dir = other_dir.path().string();
  std::string foreign_id;
  {
    RunningServer server{other, kModel.parent_path() / "stories260K-supra"};
    foreign_id = create(server.port(), tokens_of("Once upon a time", true));
  }
  fs::copy_file(other_dir.path() / (foreign_id + ".state"), dir.path() / (foreign_id + ".state"));
  try {
    Server refused(kModel, o);
    FAIL() << "a folder holding another model's state was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another model"), std::string::npos) << e.what();
  }
}

double metric(int port, const std::string& name) {
  const std::string text = get(port, "/metrics").body;
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atof(text.c_str() + at + name.size() + 2);
}

// --prefix-cache-dir: a restarted server starts from the prefix states the first one cached
// (the same greedy text, counted as a cache hit of two blocks); damaged or renamed files there
// are skipped.
TEST(ServeStates, PrefixCacheDirKeepsWarmPrefixesAcrossRestarts) {
  supra::test::TempDir dir;
  ServerOptions o;
  o.prefix_cache_dir = dir.path().string();
  std::vector<TokenId> prompt = tokens_of("Once upon a time, there was a little girl named Lily.", true);
  while (prompt.size() < 140) prompt.insert(prompt.end(), prompt.begin() + 1, prompt.begin() + 12);
  std::string first_text;
  const auto prefix_files = [&] {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir.path()))
      if (e.path().filename().string().rfind("prefix-", 0) == 0) files.push_back(e.path());
    return files;
  };
  {
    RunningServer server{o};
    first_text = complete_greedy(server.port(), prompt);
    EXPECT_EQ(metric(server.port(), "supra_cache_hits_total"), 0);
  }  // the destructor writes what is pending
  ASSERT_EQ(prefix_files().size(), 2u);  // after 64 and 128 tokens
  // A truncated copy and a file renamed to another prefix's name.
  const std::string bytes = supra::test::read_file(prefix_files()[0]);
  supra::test::write_file(dir.path() / "prefix-0000000000000001-64.state", bytes.substr(0, bytes.size() - 10));
  supra::test::write_file(dir.path() / "prefix-0000000000000002-64.state", bytes);
  RunningServer restarted{o};
  const int port = restarted.port();
  EXPECT_EQ(complete_greedy(port, prompt), first_text);
  EXPECT_EQ(metric(port, "supra_cache_hits_total"), 1);
  EXPECT_EQ(metric(port, "supra_cache_hit_tokens_total"), 128);
  EXPECT_EQ(metric(port, "supra_cache_entries"), 2);
}

TEST(ServeStates, RemovedStateCacheFlagNamesItsSuccessors) {
  const supra::test::CliResult r = supra::test::run_cli("serve -m " + kModel.string() + " --port 0 --state-cache-mb 64");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("--prefix-cache-mb"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--state-memory-mb"), std::string::npos) << r.err;
}

// A `supra serve` child process with its stderr in a file; killed with SIGKILL by the test.
class ServeProcess {
 public:
  ServeProcess(const fs::path& state_dir, const fs::path& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      ::execl(SUPRA_CLI, "supra", "serve", "-m", kModel.c_str(), "--port", "0", "--parallel", "4", "--threads", "1",
              "--state-dir", state_dir.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // The port, from "listening on http://127.0.0.1:PORT".
    const std::string marker = "listening on http://127.0.0.1:";
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      const std::string text = supra::test::read_file(log);
      if (const auto at = text.find(marker); at != std::string::npos) port_ = std::atoi(text.c_str() + at + marker.size());
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServeProcess() { kill(); }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = 0;
  int port_ = 0;
};

// The acceptance test of the issue: create, fork and import states, kill -9 the server during a
// burst of concurrent creates, restart it on the same folder: every acknowledged state is listed
// and continues greedily exactly as before the kill; no file of an interrupted write remains.
TEST(ServeStates, KillNineDuringABurstLosesNoAcknowledgedState) {
  supra::test::TempDir dir;
  const fs::path states = dir.path() / "states";
  std::map<std::string, std::string> before;                  // id -> greedy continuation before the kill
  std::vector<std::pair<std::string, std::vector<TokenId>>> burst;  // acknowledged during the burst
  {
    ServeProcess server(states, dir.path() / "first.log");
    const int port = server.port();
    ASSERT_GT(port, 0) << supra::test::read_file(dir.path() / "first.log");
    const std::string a = create(port, tokens_of("Once upon a time,", true));
    const std::string b = create(port, tokens_of("The little dog", true));
    const std::string forked = send(port, "POST", "/v1/states/" + a + "/fork").j()["id"];
    const Reply imported = send(port, "POST", "/v1/states/import", get(port, "/v1/states/" + b + "/export").body,
                                "application/octet-stream");
    ASSERT_EQ(imported.status, 200);
    for (const std::string& id : {a, b, forked, imported.j()["id"].get<std::string>()})
      before[id] = continue_greedy(port, id, kMore);

    std::mutex mutex;
    std::atomic<bool> gone{false};
    std::vector<std::thread> clients;
    const auto base = tokens_of("Once upon a time, there was", true);
    for (int c = 0; c < 6; ++c)
      clients.emplace_back([&, c] {
        for (int k = 0; !gone; ++k) {
          auto tokens = base;
          tokens.push_back(static_cast<TokenId>(3 + (c * 97 + k * 13) % 500));
          const Reply r = post(port, "/v1/states", json{{"tokens", tokens}});
          if (r.status != 200) {
            gone = true;  // the kill (no answer), or an answer other than an acknowledgement
            if (r.status != -1) ADD_FAILURE() << r.status << " " << r.body;
            return;
          }
          std::lock_guard lock(mutex);
          burst.emplace_back(r.j()["id"], tokens);
        }
      });
    for (int i = 0; i < 600; ++i) {
      {
        std::lock_guard lock(mutex);
        if (burst.size() >= 40) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    server.kill();  // SIGKILL, with the creates still running
    gone = true;
    for (auto& t : clients) t.join();
  }
  ASSERT_GE(burst.size(), 10u);

  ServeProcess restarted(states, dir.path() / "second.log");
  const int port = restarted.port();
  ASSERT_GT(port, 0) << supra::test::read_file(dir.path() / "second.log");
  const std::set<std::string> ids = listed(port);
  for (const auto& [id, text] : before) {
    EXPECT_TRUE(ids.contains(id)) << id;
    EXPECT_EQ(continue_greedy(port, id, kMore), text) << id;
  }
  for (const auto& [id, tokens] : burst) {
    EXPECT_TRUE(ids.contains(id)) << id;
    auto all = tokens;
    all.insert(all.end(), kMore.begin(), kMore.end());
    EXPECT_EQ(continue_greedy(port, id, kMore), complete_greedy(port, all)) << id;
  }
  std::size_t temp_files = 0;
  for (const auto& entry : fs::directory_iterator(states))
    temp_files += entry.path().filename().string().find(".tmp.") != std::string::npos;
  EXPECT_EQ(temp_files, 0u);
  std::printf("kill -9 during a burst: %zu states acknowledged before the kill (4 + %zu in the burst), %zu listed after the restart\n",
              before.size() + burst.size(), burst.size(), ids.size());
}

}  // namespace
}  // namespace supra::serve
