// mistral-common's v1 chat sample (Mistral-7B-Instruct-v0.1 format), no_tools/.
// sample.json holds the messages, tokens_v1.json the expected ids, text_v1.txt the pieces
// of those ids concatenated. In v1 the instruction markers are plain text, not special
// tokens: BOS once, each user turn encoded as "[INST] <content> [/INST]" and each
// assistant turn as its content (both with SentencePiece's dummy prefix, no BOS), and
// EOS after each assistant turn.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "vector_files.h"

namespace supra::test {
namespace {

using nlohmann::json;

json load(const std::string& name) {
  return json::parse(read_file(tokenizer_data("mistral-common/no_tools/" + name)));
}

void append(std::vector<TokenId>& ids, const std::vector<TokenId>& more) {
  ids.insert(ids.end(), more.begin(), more.end());
}

TEST(MistralCommonVectors, ChatV1Ids) {
  const Tokenizer& tok = mistral_tokenizer();
  std::vector<TokenId> ids = {tok.bos_id()};
  const json sample = load("sample.json");
  for (const json& message : sample.at("messages")) {
    const std::string content = message.at("content").get<std::string>();
    if (message.at("role") == "user") {
      append(ids, tok.encode("[INST] " + content + " [/INST]", false));
    } else {
      append(ids, tok.encode(content, false));
      ids.push_back(tok.eos_id());
    }
  }
  EXPECT_EQ(ids, load("tokens_v1.json").at("tokens").get<std::vector<TokenId>>());
}

TEST(MistralCommonVectors, PiecesSpellTheText) {
  const Tokenizer& tok = mistral_tokenizer();
  std::string pieces;
  for (TokenId id : load("tokens_v1.json").at("tokens").get<std::vector<TokenId>>())
    pieces += tok.piece(id);
  EXPECT_EQ(pieces, read_file(tokenizer_data("mistral-common/no_tools/text_v1.txt")));
}

}  // namespace
}  // namespace supra::test
