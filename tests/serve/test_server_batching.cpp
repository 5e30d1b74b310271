// Batched serving end to end: the scheduler advances its whole running set with one batched
// forward pass per step. Concurrent seeded requests of different prompts and lengths (prompt
// blocks and decode tokens in the same steps, sequences joining and leaving the running set
// between steps, a disconnect among them) must give exactly what each gives alone, and the
// prefix states stored by batched steps must serve later requests alike. On both shipped models: the
// SUPRA one (recurrent steps, chunked blocks) and its softmax teacher (KV caches). And, on the
// Scheduler itself, a batch entry the model refuses ends only its own sequence.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "convert/quantize.h"
#include "running_server.h"
#include "serve/scheduler.h"
#include "supra/serve.h"
#include "supra/model.h"
#include "supra/tokenizer.h"
#include "test_support.h"

namespace supra::serve {
namespace {

using nlohmann::json;
using test::RunningServer;
using test::start_endless_stream;
namespace fs = std::filesystem;

struct Call {
  std::string path;
  json body;
};

// What a client sees of one answer: the text, why it ended, and the logprobs block if any.
struct Outcome {
  int status = 0;
  std::string text;
  std::string finish_reason;
  json logprobs;
};

Outcome send(int port, const Call& call) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  auto r = c.Post(call.path.c_str(), call.body.dump(), "application/json");
  if (!r) return {-1, "no response: " + httplib::to_string(r.error()), "", nullptr};
  if (r->status != 200) return {r->status, r->body, "", nullptr};
  const json choice = json::parse(r->body)["choices"][0];
  Outcome o{200, "", choice["finish_reason"].get<std::string>(), choice.value("logprobs", json())};
  o.text = choice.contains("message") ? choice["message"]["content"].get<std::string>() : choice["text"].get<std::string>();
  return o;
}

void expect_same(const Outcome& got, const Outcome& want, const std::string& what) {
  ASSERT_EQ(got.status, 200) << what << ": " << got.text;
  EXPECT_EQ(got.text, want.text) << what;
  EXPECT_EQ(got.finish_reason, want.finish_reason) << what;
  ASSERT_EQ(got.logprobs.is_null(), want.logprobs.is_null()) << what;
  if (want.logprobs.is_null()) return;
  EXPECT_EQ(got.logprobs["tokens"], want.logprobs["tokens"]) << what;
  EXPECT_EQ(got.logprobs["text_offset"], want.logprobs["text_offset"]) << what;
  const json& a = got.logprobs["token_logprobs"];
  const json& b = want.logprobs["token_logprobs"];
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].is_null(), b[i].is_null()) << what << " token " << i;
    // The model's distribution, equal to float rounding (the batched products may sum in
    // another order); the sampled tokens above must be the same.
    if (!b[i].is_null()) {
      EXPECT_NEAR(a[i].get<double>(), b[i].get<double>(), 1e-4) << what << " token " << i;
    }
  }
}

double metric(int port, const std::string& name) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get("/metrics");
  const std::string text = r ? r->body : "";
  const std::size_t at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

// Polls `done` every 10 ms for up to 10 s.
bool wait_for(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// The prompt of a long greedy generation: 5764 tokens before an EOS on the SUPRA model, none in
// the first 6000 on its teacher (seconds of decoding, against milliseconds for the requests
// run beside it).
constexpr const char* kLongGreedyPrompt = "Lily said, \"Yes! Yes! Yes! Yes!";

class BatchingTest : public ::testing::TestWithParam<std::string> {
 protected:
  // A shipped model, or ("NAME-q4") its Q4_0 quantization, written once per test run: integer
  // kernels are where a row computed batched could most easily differ from the row alone.
  fs::path model() const {
    const std::string& name = GetParam();
    if (!name.ends_with("-q4")) return test::kModel.parent_path() / name;
    static const supra::test::TempDir dir;
    const fs::path out = dir.path() / name;
    if (!fs::exists(out)) quantize_model(test::kModel.parent_path() / name.substr(0, name.size() - 3), out, DType::Q4_0);
    return out;
  }

  static ServerOptions options() {
    ServerOptions o;
    o.parallel = 4;  // fewer slots than requests: sequences wait, join and leave
    o.max_tokens = 1 << 24;
    return o;
  }

  // `n` token ids of story text, repeated as needed (valid ids of the model, a realistic prompt).
  static std::vector<TokenId> story_ids(const Tokenizer& tokenizer, std::size_t n) {
    const std::vector<TokenId> text = tokenizer.encode(
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her "
        "friends. One day, she saw a big red ball under a tree and she wanted to play with it very much.",
        false);
    std::vector<TokenId> ids;
    for (std::size_t i = 0; ids.size() < n; ++i) ids.push_back(text[i % text.size()]);
    return ids;
  }

  // Requests of every kind and length, each seeded: prompts of 1 to 4 blocks of 64 tokens (one
  // of them ending with a 1-token block), echoed prompt logprobs, a stop string, a chat, a
  // continued state, a prompt with nothing to generate. Creates the state on the server at `port`.
  std::vector<Call> calls(int port) const {
    httplib::Client c("127.0.0.1", port);
    auto state = c.Post("/v1/states", json{{"prompt", "Once upon a time, a little bird"}}.dump(), "application/json");
    EXPECT_TRUE(state && state->status == 200) << (state ? state->body : "no response");
    const std::string state_id = state && state->status == 200 ? json::parse(state->body)["id"].get<std::string>() : "";
    const std::string completions = "/v1/completions";
    const Tokenizer tokenizer = Tokenizer::load_folder(model());
    const auto story_ids = [&](std::size_t n) { return BatchingTest::story_ids(tokenizer, n); };
    return {
        {completions, {{"prompt", "Once upon a time"}, {"max_tokens", 40}, {"temperature", 0.9}, {"seed", 11}}},
        {completions, {{"prompt", story_ids(70)}, {"max_tokens", 20}, {"temperature", 1.0}, {"top_p", 0.9}, {"seed", 12}}},
        {completions, {{"prompt", story_ids(200)}, {"max_tokens", 12}, {"temperature", 0.7}, {"top_k", 20}, {"seed", 13}}},
        {completions, {{"prompt", story_ids(130)}, {"max_tokens", 2}, {"echo", true}, {"logprobs", 3}, {"temperature", 0}}},
        {completions, {{"prompt", story_ids(65)}, {"max_tokens", 8}, {"temperature", 0}}},
        {completions, {{"prompt", "Lily and Tom"}, {"max_tokens", 30}, {"temperature", 0.8}, {"seed", 14}, {"stop", {"."}}}},
        {"/v1/chat/completions",
         {{"messages", {{{"role", "user"}, {"content", "A story about a dog"}}}}, {"max_tokens", 25}, {"temperature", 0.8},
          {"seed", 15}}},
        {completions, {{"prompt", " flew home"}, {"state_id", state_id}, {"max_tokens", 16}, {"temperature", 0.8},
                       {"seed", 16}, {"logprobs", 2}}},
        {completions, {{"prompt", "The dog"}, {"max_tokens", 0}}},
    };
  }

  static std::vector<Outcome> one_at_a_time(int port, const std::vector<Call>& calls) {
    std::vector<Outcome> out;
    for (const Call& c : calls) out.push_back(send(port, c));
    return out;
  }

  // Runs `calls` all at once beside a generation that decodes from before the first of them
  // arrives until after the last one is answered, so every prompt block shares its step with
  // at least that decode token; then disconnects that generation, which must be cancelled.
  static std::vector<Outcome> together(int port, const std::vector<Call>& calls) {
    const double cancelled = metric(port, "supra_cancelled_total");
    const int anchor = start_endless_stream(port, kLongGreedyPrompt);
    EXPECT_GE(anchor, 0) << "the decoding generation did not start";
    std::vector<std::future<Outcome>> answers;
    for (const Call& c : calls) answers.push_back(std::async(std::launch::async, [port, c] { return send(port, c); }));
    std::vector<Outcome> out;
    for (auto& a : answers) out.push_back(a.get());
    if (anchor >= 0) ::close(anchor);
    // Cancelled (not ended by itself): it was decoding all along.
    EXPECT_TRUE(wait_for([&] { return metric(port, "supra_cancelled_total") == cancelled + 1; }));
    EXPECT_TRUE(wait_for([&] { return metric(port, "supra_active_sequences") == 0; }));
    return out;
  }
};

TEST_P(BatchingTest, ConcurrentRequestsEqualOneAtATime) {
  RunningServer reference_server(options(), model());
  const std::vector<Outcome> alone = one_at_a_time(reference_server.port(), calls(reference_server.port()));
  for (std::size_t i = 0; i < alone.size(); ++i) ASSERT_EQ(alone[i].status, 200) << i << ": " << alone[i].text;

  // A fresh server (nothing cached) runs them all at once.
  RunningServer server(options(), model());
  const int port = server.port();
  const std::vector<Call> requests = calls(port);
  const double steps = metric(port, "supra_batch_steps_total");
  const double sequences = metric(port, "supra_batch_sequences_total");
  const double mixed = metric(port, "supra_batch_mixed_steps_total");
  const std::vector<Outcome> concurrent = together(port, requests);
  for (std::size_t i = 0; i < requests.size(); ++i) expect_same(concurrent[i], alone[i], "together " + std::to_string(i));
  // The steps were batched (more sequences than steps) and mixed prompt blocks with decoding.
  EXPECT_GT(metric(port, "supra_batch_sequences_total") - sequences, metric(port, "supra_batch_steps_total") - steps);
  EXPECT_GT(metric(port, "supra_batch_mixed_steps_total"), mixed);

  // The prefix states stored by those batched steps serve the same requests run alone again.
  const double hits = metric(port, "supra_cache_hits_total");
  const std::vector<Outcome> again = one_at_a_time(port, requests);
  for (std::size_t i = 0; i < requests.size(); ++i) expect_same(again[i], alone[i], "cached " + std::to_string(i));
  EXPECT_GE(metric(port, "supra_cache_hits_total"), hits + 3);  // the 70-, 200- and 65-token prompts
}

INSTANTIATE_TEST_SUITE_P(ShippedModels, BatchingTest, ::testing::Values("stories260K-supra", "stories260K", "stories260K-supra-q4"),
                         [](const ::testing::TestParamInfo<std::string>& model) {
                           std::string name = model.param;
                           std::erase(name, '-');
                           return name;
                         });

// A Scheduler driven directly, without HTTP, on the SUPRA model (512 ids) with a tokenizer of
// 32000 ids: the HTTP layer checks prompt ids against the tokenizer, so ids the model refuses
// can reach the batch.
class SchedulerBatchingTest : public ::testing::Test {
 protected:
  SchedulerBatchingTest()
      : model_(Model::load(test::kModel.parent_path() / "stories260K-supra")),
        tokenizer_(Tokenizer::load_model_file(supra::test::data_dir() / "tokenizer" / "mistral-7b-v0.1.model")),
        scheduler_(model_, tokenizer_, metrics_, SchedulerOptions{}) {}

  // Greedy from kLongGreedyPrompt (the model's own ids), up to `max_tokens`.
  std::shared_ptr<Sequence> greedy(int max_tokens) {
    SequenceParams p;
    p.prompt = Tokenizer::load_folder(test::kModel.parent_path() / "stories260K-supra").encode(kLongGreedyPrompt);
    p.max_tokens = max_tokens;
    p.sampling.temperature = 0;
    p.stop_ids = {2};  // the model's EOS
    auto s = std::make_shared<Sequence>(std::move(p));
    EXPECT_TRUE(scheduler_.submit(s));
    return s;
  }
  // Reads `s`'s events into `text` until `enough` (or its end), for at most 30 s; true when
  // `enough` held. The finish reason (and error) of an ended sequence go to `end`.
  static bool read(Sequence& s, std::string& text, std::string& end, const std::function<bool()>& enough) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!enough() && end.empty() && std::chrono::steady_clock::now() < deadline)
      for (SequenceEvent& e : s.take(std::chrono::milliseconds(100))) {
        text += e.text;
        if (e.done) end = e.finish_reason + ": " + e.error;
      }
    return enough();
  }

  Model model_;
  Tokenizer tokenizer_;
  Metrics metrics_;
  Scheduler scheduler_;
};

TEST_F(SchedulerBatchingTest, AnEntryTheModelRefusesEndsOnlyItsSequence) {
  std::string alone, alone_end;
  auto reference = greedy(3000);
  read(*reference, alone, alone_end, [] { return false; });
  ASSERT_EQ(alone_end, "length: ");

  // A generation that decodes until cancelled, and beside it a prompt with an id outside the
  // model's vocabulary: the model refuses their batch, each entry runs again alone, and only
  // the bad one ends.
  auto running = greedy(1 << 24);
  std::string text, end;
  ASSERT_TRUE(read(*running, text, end, [&] { return !text.empty(); })) << end;
  SequenceParams p;
  p.prompt = {tokenizer_.bos_id(), model_.config().vocab_size, 5};
  auto bad = std::make_shared<Sequence>(std::move(p));
  ASSERT_TRUE(scheduler_.submit(bad));
  std::string bad_text, bad_end;
  read(*bad, bad_text, bad_end, [] { return false; });
  EXPECT_NE(bad_end.find("error: token id " + std::to_string(model_.config().vocab_size)), std::string::npos) << bad_end;

  const std::size_t after_bad = text.size();
  ASSERT_TRUE(read(*running, text, end, [&] { return text.size() > after_bad + 40; })) << end;
  running->cancel();
  ASSERT_LE(text.size(), alone.size());
  EXPECT_EQ(text, alone.substr(0, text.size()));
}

}  // namespace
}  // namespace supra::serve
