// TextStreamer: pushing ids one at a time must print exactly decode(all ids), never split
// a byte-fallback UTF-8 character across chunks, and strip the dummy-prefix space only
// from the first token of the text.
#include <gtest/gtest.h>

#include "supra/error.h"
#include "test_support.h"
#include "vector_files.h"

namespace supra::test {
namespace {

// True when s is well-formed UTF-8 (no truncated or stray bytes).
bool valid_utf8(const std::string& s) {
  std::size_t need = 0;
  for (unsigned char c : s) {
    if (need > 0) {
      if ((c & 0xC0) != 0x80) return false;
      --need;
    } else if (c >= 0xF0) {
      need = 3;
    } else if (c >= 0xE0) {
      need = 2;
    } else if (c >= 0xC0) {
      need = 1;
    } else if (c >= 0x80) {
      return false;
    }
  }
  return need == 0;
}

// Streams ids and returns the chunks, the last one from flush().
std::vector<std::string> stream(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  TextStreamer streamer(tok);
  std::vector<std::string> chunks;
  for (TokenId id : ids) chunks.push_back(streamer.push(id));
  chunks.push_back(streamer.flush());
  return chunks;
}

std::string join(const std::vector<std::string>& chunks) {
  std::string all;
  for (const auto& c : chunks) all += c;
  return all;
}

// Every chunk is whole UTF-8 whenever the full text is.
void check_stream(const Tokenizer& tok, const std::vector<TokenId>& ids) {
  const std::string expected = tok.decode(ids);
  const auto chunks = stream(tok, ids);
  ASSERT_EQ(join(chunks), expected);
  if (valid_utf8(expected)) {
    for (const auto& c : chunks) ASSERT_TRUE(valid_utf8(c)) << "chunk splits a character";
  }
}

TEST(TextStreamer, KitokenIdSequencesStreamToTheirDecode) {
  const Tokenizer& tok = mistral_tokenizer();
  std::size_t sequences = 0;
  for (const char* name : {"small", "mixed", "hf_small", "hf_mixed"}) {
    for (const auto& ids :
         id_lines(tokenizer_data(std::string("kitoken/") + name + "_tokens_mistral01.txt"), ',')) {
      SCOPED_TRACE(std::string(name) + " sequence " + std::to_string(sequences));
      check_stream(tok, ids);
      // A leading BOS prints nothing and must not move the first-token space rule.
      std::vector<TokenId> with_bos = {tok.bos_id()};
      with_bos.insert(with_bos.end(), ids.begin(), ids.end());
      check_stream(tok, with_bos);
      ++sequences;
    }
  }
  EXPECT_EQ(sequences, 2u * (20 + 120));
  for (const char* name : {"utf8", "hf_utf8"})
    check_stream(tok, all_ids(tokenizer_data(std::string("kitoken/") + name +
                                             "_tokens_mistral01.txt"),
                              ','));
}

TEST(TextStreamer, ChatWithSpecialTokensStreamsToItsDecode) {
  const Tokenizer& tok = mistral_tokenizer();
  // BOS, then a chat in which EOS separates turns: EOS prints nothing, the text after it
  // keeps its space (it is not the start of the text).
  std::vector<TokenId> ids = tok.encode("[INST] Hi [/INST]");
  for (const char* turn : {"Hello!", "[INST] And now? [/INST]", "Bye."}) {
    const auto more = tok.encode(turn, false);
    ids.insert(ids.end(), more.begin(), more.end());
    ids.push_back(tok.eos_id());
  }
  check_stream(tok, ids);
}

TEST(TextStreamer, FirstTokenLosesItsSpaceLaterTokensKeepTheirs) {
  const Tokenizer& tok = mistral_tokenizer();
  const auto chunks = stream(tok, tok.encode("Hello world again"));
  EXPECT_EQ(chunks, (std::vector<std::string>{"", "Hello", " world", " again", ""}));
}

TEST(TextStreamer, HoldsByteFallbackUntilTheCharacterIsComplete) {
  const Tokenizer& tok = mistral_tokenizer();
  // U+1F999 (llama) has no piece of its own: it is four byte-fallback pieces.
  const std::string llama = "\xF0\x9F\xA6\x99";
  const auto ids = tok.encode("Run " + llama + " run", false);
  ASSERT_EQ(ids.size(), 7u);  // "▁Run" "▁" <0xF0> <0x9F> <0xA6> <0x99> "▁run"
  const auto chunks = stream(tok, ids);
  EXPECT_EQ(chunks, (std::vector<std::string>{"Run", " ", "", "", "", llama, " run", ""}));
}

TEST(TextStreamer, FlushPrintsAnIncompleteTailAsDecodeDoes) {
  const Tokenizer& tok = mistral_tokenizer();
  auto ids = tok.encode("\xF0\x9F\xA6\x99", false);
  ids.pop_back();  // three bytes of four
  TextStreamer streamer(tok);
  std::string printed;
  for (TokenId id : ids) printed += streamer.push(id);
  EXPECT_EQ(printed, "");  // "▁" is consumed as the dummy prefix; the bytes are held
  EXPECT_EQ(streamer.flush(), tok.decode(ids));
}

TEST(TextStreamer, BadIdThrowsAndIsNotKept) {
  const Tokenizer& tok = mistral_tokenizer();
  TextStreamer streamer(tok);
  EXPECT_EQ(streamer.push(22557), "Hello");
  EXPECT_THROW(streamer.push(32000), Error);
  EXPECT_EQ(streamer.push(1526), " world");
}

TEST(TextStreamer, Stories260KGreedyRun) {
  const Tokenizer tok = Tokenizer::load_folder(data_dir() / ".." / ".." / "models" / "stories260K");
  check_stream(tok, all_ids(data_dir() / "stories260K" / "greedy_t0_n256.ids.txt", ' '));
}

}  // namespace
}  // namespace supra::test
