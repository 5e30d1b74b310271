// Loading a model folder: special-token settings from the JSON side files, the defaults
// when they are missing, and one clear supra::Error for each kind of bad input.
#include <gtest/gtest.h>

#include <random>

#include "supra/error.h"
#include "test_support.h"
#include "vector_files.h"

namespace supra::test {
namespace {

namespace fs = std::filesystem;

// A folder holding the Mistral tokenizer.model plus the given side files.
struct MistralFolder {
  TempDir dir;
  MistralFolder() {
    fs::copy_file(tokenizer_data("mistral-7b-v0.1.model"), dir.path() / "tokenizer.model");
  }
  MistralFolder& with(const std::string& name, const std::string& text) {
    write_file(dir.path() / name, text);
    return *this;
  }
  Tokenizer load() const { return Tokenizer::load_folder(dir.path()); }
};

// Runs f, which must throw supra::Error whose message contains `needle`.
template <class F>
void expect_error(F f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no supra::Error; expected one mentioning " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TokenizerLoad, BareFolderUsesModelIdsAndLlamaDefaults) {
  const Tokenizer tok = MistralFolder().load();
  EXPECT_EQ(tok.vocab_size(), 32000);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.eos_ids(), std::vector<TokenId>{2});
  EXPECT_TRUE(tok.add_bos());
  EXPECT_FALSE(tok.add_eos());
  EXPECT_EQ(tok.piece(0), "<unk>");
  EXPECT_EQ(tok.encode("Hello world"), (std::vector<TokenId>{1, 22557, 1526}));
  EXPECT_EQ(tok.encode("Hello world", false), (std::vector<TokenId>{22557, 1526}));
  EXPECT_EQ(tok.encode(""), std::vector<TokenId>{1});
  EXPECT_TRUE(tok.encode("", false).empty());
}

TEST(TokenizerLoad, TokenizerConfigSetsBosAndEosInsertion) {
  const Tokenizer tok = MistralFolder()
                            .with("tokenizer_config.json",
                                  R"({"add_bos_token": false, "add_eos_token": true,
                                      "pad_token": null, "legacy": true})")
                            .load();
  EXPECT_FALSE(tok.add_bos());
  EXPECT_TRUE(tok.add_eos());
  EXPECT_EQ(tok.encode("Hello world"), (std::vector<TokenId>{22557, 1526, 2}));
  EXPECT_EQ(tok.encode("Hello world", false), (std::vector<TokenId>{22557, 1526}));
}

TEST(TokenizerLoad, GenerationConfigOverridesConfigOverridesModel) {
  const Tokenizer tok =
      MistralFolder()
          .with("config.json", R"({"bos_token_id": 5, "eos_token_id": 6, "pad_token_id": null})")
          .with("generation_config.json", R"({"eos_token_id": [7, 2]})")
          .load();
  EXPECT_EQ(tok.bos_id(), 5);  // generation_config has no bos: config.json's stays
  EXPECT_EQ(tok.eos_id(), 7);
  EXPECT_EQ(tok.eos_ids(), (std::vector<TokenId>{7, 2}));
  EXPECT_EQ(tok.encode("Hi").front(), 5);
}

TEST(TokenizerLoad, NullIdsAreIgnored) {
  const Tokenizer tok =
      MistralFolder().with("config.json", R"({"bos_token_id": null, "eos_token_id": null})").load();
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
}

TEST(TokenizerLoad, Stories260KFolder) {
  const Tokenizer tok = Tokenizer::load_folder(data_dir() / ".." / ".." / "models" / "stories260K");
  EXPECT_EQ(tok.vocab_size(), 512);
  const std::string text = "Once upon a time";
  const std::vector<TokenId> ids = tok.encode(text);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(tok.decode(ids), text);
  // Greedy generation from BOS starts with the same text, so with the same ids.
  const auto greedy = all_ids(data_dir() / "stories260K" / "greedy_t0_n256.ids.txt", ' ');
  ASSERT_GE(greedy.size(), ids.size());
  EXPECT_EQ(std::vector<TokenId>(greedy.begin(), greedy.begin() + std::ssize(ids)), ids);
  // llama2.c's run.c printed the reference text; it ends the run with a newline.
  EXPECT_EQ(tok.decode(greedy) + "\n",
            read_file(data_dir() / "stories260K" / "greedy_t0_n256.txt"));
}

TEST(TokenizerErrors, MissingModel) {
  TempDir dir;
  expect_error([&] { Tokenizer::load_folder(dir.path()); }, "tokenizer.model");
  expect_error([&] { Tokenizer::load_model_file(dir.path() / "nothing.model"); }, "nothing.model");
}

TEST(TokenizerErrors, CorruptModel) {
  TempDir dir;
  std::mt19937 random(1234);
  std::string bytes(4096, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xFF);
  write_file(dir.path() / "tokenizer.model", bytes);
  expect_error([&] { Tokenizer::load_folder(dir.path()); }, "not a valid SentencePiece model");
  write_file(dir.path() / "tokenizer.model", "");
  expect_error([&] { Tokenizer::load_folder(dir.path()); }, "tokenizer.model");
}

TEST(TokenizerErrors, MalformedJsonNamesTheFile) {
  for (const char* name : {"tokenizer_config.json", "config.json", "generation_config.json"}) {
    MistralFolder folder;
    folder.with(name, R"({"add_bos_token": true,)");
    expect_error([&] { folder.load(); }, name);
    folder.with(name, R"({"bos_token_id": 1e99999})");  // a number overflow (found by fuzz_config)
    expect_error([&] { folder.load(); }, name);
  }
}

TEST(TokenizerErrors, WrongFieldTypesAndRanges) {
  {
    MistralFolder folder;
    folder.with("tokenizer_config.json", R"({"add_bos_token": "yes"})");
    expect_error([&] { folder.load(); }, "add_bos_token");
  }
  {
    MistralFolder folder;
    folder.with("config.json", R"({"eos_token_id": 32000})");
    expect_error([&] { folder.load(); }, "eos_token_id");
  }
  {
    MistralFolder folder;
    folder.with("generation_config.json", R"({"bos_token_id": "1"})");
    expect_error([&] { folder.load(); }, "bos_token_id");
  }
  {
    MistralFolder folder;
    folder.with("config.json", "[1, 2]");
    expect_error([&] { folder.load(); }, "config.json");
  }
}

TEST(TokenizerErrors, IdsOutsideTheVocabulary) {
  const Tokenizer& tok = mistral_tokenizer();
  expect_error([&] { tok.decode({1, 99999}); }, "99999");
  expect_error([&] { tok.decode({-1}); }, "-1");
  expect_error([&] { tok.piece(32000); }, "32000");
}

}  // namespace
}  // namespace supra::test
