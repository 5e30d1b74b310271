// The generation loop end to end: stories260K reproduces its author's greedy run, the golden
// fixtures their greedy continuations, in every mode; stop ids and defaults behave like HF.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "supra/error.h"
#include "supra/generate.h"
#include "supra/tokenizer.h"
#include "test_support.h"

namespace supra::test {
namespace {

namespace fs = std::filesystem;

fs::path stories() { return data_dir().parent_path().parent_path() / "models" / "stories260K"; }

std::vector<TokenId> read_ids(const fs::path& path) {
  std::ifstream in(path);
  std::vector<TokenId> ids;
  for (TokenId id; in >> id;) ids.push_back(id);
  return ids;
}

GenerationOptions greedy(int n, Mode mode) {
  GenerationOptions o;
  o.max_new_tokens = n;
  o.sampling.temperature = 0.0f;
  o.mode = mode;
  return o;
}

// Karpathy's published run: BOS then 256 greedy tokens (ids derived from his model file
// by an independent implementation; the text is byte-identical to his output).
TEST(Generation, Stories260KGreedyMatchesReferenceInEveryMode) {
  const Model model = Model::load(stories());
  const std::vector<TokenId> want = read_ids(data_dir() / "stories260K" / "greedy_t0_n256.ids.txt");
  ASSERT_EQ(want.size(), 257u);
  for (Mode mode : {Mode::Hybrid, Mode::Recurrent, Mode::Parallel}) {
    // Parallel mode re-runs the whole prefix per token (O(n²)); 64 tokens keep it quick.
    const int n = mode == Mode::Parallel ? 64 : 256;
    const auto r = generate(model, {1}, greedy(n, mode));
    EXPECT_EQ(r.tokens, std::vector<TokenId>(want.begin() + 1, want.begin() + 1 + n)) << mode_name(mode);
    EXPECT_FALSE(r.stopped_at_eos);
  }
}

TEST(Generation, Stories260KTeacherForcedLogits) {
  const Model model = Model::load(stories());
  std::ifstream in(data_dir() / "stories260K" / "logits_greedy_first16.tsv");
  std::string line;
  std::getline(in, line);  // header
  std::vector<TokenId> ids;
  std::vector<float> want;
  while (std::getline(in, line)) {
    std::istringstream row(line);
    int pos, input, argmax;
    row >> pos >> input >> argmax;
    ids.push_back(input);
    for (float v; row >> v;) want.push_back(v);
  }
  ASSERT_EQ(ids.size(), 16u);
  for (Mode mode : {Mode::Parallel, Mode::Recurrent}) {
    State s = model.new_state();
    const auto got = model.forward(ids, s, mode, LogitsWanted::All);
    const Diff d = compare(got, want);
    EXPECT_LE(d.max_abs, 1e-4) << mode_name(mode) << " worst index " << d.worst_index;
  }
}

// The default model (stories260K up-trained into SUPRA, docs/UPTRAINING.md): the three modes
// give the same logits and the same greedy continuation.
TEST(Generation, DefaultSupraModelAgreesInEveryMode) {
  const Model model = Model::load(stories().parent_path() / "stories260K-supra");
  ASSERT_EQ(model.config().attention, AttentionKind::Linear);
  const std::vector<TokenId> ids = read_ids(data_dir() / "stories260K" / "greedy_t0_n256.ids.txt");  // 257 real tokens
  std::vector<std::vector<float>> logits;
  for (Mode mode : {Mode::Parallel, Mode::Recurrent, Mode::Hybrid}) {
    State state = model.new_state();
    logits.push_back(model.forward(ids, state, mode, LogitsWanted::All));
  }
  for (int m = 1; m < 3; ++m) {
    const Diff d = compare(logits[m], logits[0]);
    EXPECT_LT(d.rel(), 1e-5) << "mode " << m << " max |diff| " << d.max_abs;
  }
  const std::vector<TokenId> prompt(ids.begin(), ids.begin() + 8);
  const auto want = generate(model, prompt, greedy(64, Mode::Parallel)).tokens;
  EXPECT_EQ(generate(model, prompt, greedy(64, Mode::Recurrent)).tokens, want);
  EXPECT_EQ(generate(model, prompt, greedy(64, Mode::Hybrid)).tokens, want);
}

TEST(Generation, StopsAfterTheStopId) {
  const Model model = Model::load(stories());
  const auto free_run = generate(model, {1}, greedy(5, Mode::Hybrid));
  GenerationOptions o = greedy(50, Mode::Hybrid);
  o.stop_ids = {free_run.tokens[2]};
  const auto r = generate(model, {1}, o);
  EXPECT_TRUE(r.stopped_at_eos);
  EXPECT_EQ(r.tokens, std::vector<TokenId>(free_run.tokens.begin(), free_run.tokens.begin() + 3));
}

// A caller's own stop (supra generate --stop): on_token returns false after the third token.
TEST(Generation, StopsWhenTheCallbackSaysSo) {
  const Model model = Model::load(stories());
  const auto free_run = generate(model, {1}, greedy(10, Mode::Hybrid));
  int seen = 0;
  const auto r = generate(model, {1}, greedy(10, Mode::Hybrid), [&](TokenId) { return ++seen < 3; });
  EXPECT_TRUE(r.stopped_by_caller);
  EXPECT_FALSE(r.stopped_at_eos);
  EXPECT_EQ(seen, 3);
  EXPECT_EQ(r.tokens, std::vector<TokenId>(free_run.tokens.begin(), free_run.tokens.begin() + 3));
}

TEST(Generation, SeededSamplingIsReproducible) {
  const Model model = Model::load(stories());
  GenerationOptions o;
  o.max_new_tokens = 40;
  o.sampling = {.temperature = 0.8f, .top_k = 40, .top_p = 0.9f, .repetition_penalty = 1.1f, .seed = 7};
  const auto a = generate(model, {1, 403}, o);
  const auto b = generate(model, {1, 403}, o);
  EXPECT_EQ(a.tokens, b.tokens);
  o.sampling.seed = 8;
  EXPECT_NE(generate(model, {1, 403}, o).tokens, a.tokens);
}

// A prompt cache changes how much of the prompt is read, never what is generated.
TEST(Generation, PromptCacheReusesThePrefixWithoutChangingTheOutput) {
  const Model model = Model::load(stories());
  const std::vector<TokenId> prompt = {1, 403, 407, 261, 378, 389, 300, 261};
  std::vector<TokenId> longer = prompt;
  longer.insert(longer.end(), {378, 389});
  for (Mode mode : {Mode::Recurrent, Mode::Hybrid}) {
    SCOPED_TRACE(std::string(mode_name(mode)));
    const auto plain = generate(model, longer, greedy(12, mode)).tokens;
    PromptCache cache{model.new_state(), {}};
    const auto first = generate(model, prompt, greedy(12, mode), {}, &cache);
    EXPECT_EQ(first.cached_prompt_tokens, 0u);
    EXPECT_EQ(cache.tokens, std::vector<TokenId>(prompt.begin(), prompt.end() - 1));
    EXPECT_EQ(cache.state.position, static_cast<std::int64_t>(prompt.size()) - 1);
    const auto again = generate(model, prompt, greedy(12, mode), {}, &cache);
    EXPECT_EQ(again.cached_prompt_tokens, prompt.size() - 1);
    EXPECT_EQ(again.tokens, first.tokens);
    const auto extended = generate(model, longer, greedy(12, mode), {}, &cache);
    EXPECT_EQ(extended.cached_prompt_tokens, prompt.size() - 1);
    EXPECT_EQ(extended.tokens, plain);
    // A cache of another prompt is not a prefix: read everything again.
    const std::vector<TokenId> other = {1, 500, 501};
    const auto miss = generate(model, other, greedy(4, mode), {}, &cache);
    EXPECT_EQ(miss.cached_prompt_tokens, 0u);
    EXPECT_EQ(cache.tokens, std::vector<TokenId>({1, 500}));
  }
  PromptCache untouched{model.new_state(), {}};
  EXPECT_EQ(generate(model, prompt, greedy(2, Mode::Parallel), {}, &untouched).cached_prompt_tokens, 0u);
  EXPECT_TRUE(untouched.tokens.empty());
}

TEST(Generation, RejectsBadArguments) {
  const Model model = Model::load(stories());
  EXPECT_THROW(generate(model, {}, greedy(5, Mode::Hybrid)), Error);
  EXPECT_THROW(generate(model, {1, 600}, greedy(5, Mode::Hybrid)), Error);  // id outside the vocabulary
  GenerationOptions o = greedy(5, Mode::Hybrid);
  o.sampling.top_p = 0.0f;
  EXPECT_THROW(generate(model, {1}, o), Error);
}

TEST(GenerationDefaults, FollowHfSemantics) {
  TempDir dir;
  EXPECT_EQ(load_generation_defaults(dir.path()).sampling.temperature, 0.0f);  // no file: greedy
  write_file(dir.path() / "generation_config.json",
             R"({"do_sample": true, "temperature": 0.7, "top_p": 0.8, "eos_token_id": [2, 32000],
                 "max_new_tokens": 12, "repetition_penalty": 1.2})");
  const GenerationOptions o = load_generation_defaults(dir.path());
  EXPECT_FLOAT_EQ(o.sampling.temperature, 0.7f);
  EXPECT_FLOAT_EQ(o.sampling.top_p, 0.8f);
  EXPECT_EQ(o.sampling.top_k, 50);  // HF's implicit top-k
  EXPECT_FLOAT_EQ(o.sampling.repetition_penalty, 1.2f);
  EXPECT_EQ(o.max_new_tokens, 12);
  EXPECT_EQ(o.stop_ids, (std::vector<TokenId>{2, 32000}));
  write_file(dir.path() / "generation_config.json", R"({"do_sample": false, "temperature": 0.7})");
  EXPECT_EQ(load_generation_defaults(dir.path()).sampling.temperature, 0.0f);
  write_file(dir.path() / "generation_config.json", "{oops");
  EXPECT_THROW(load_generation_defaults(dir.path()), Error);
  write_file(dir.path() / "generation_config.json", R"({"do_sample": true, "top_k": "many"})");
  EXPECT_THROW(load_generation_defaults(dir.path()), Error);
}

}  // namespace
}  // namespace supra::test
