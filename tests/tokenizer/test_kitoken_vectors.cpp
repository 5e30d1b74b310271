// kitoken's Mistral-7B-v0.1 vectors (tests/data/tokenizer/kitoken).
//
// Formats, as kitoken's own harness reads them: small and mixed are "lines" tests (each
// non-empty input line, escapes expanded, is one text; the id file has one line of
// ", "-separated ids per text); utf8 is a "full" test (the whole file is one text, the ids
// of all lines form one sequence). No BOS anywhere: kitoken encodes without specials.
// *_tokens_mistral01.txt come from SentencePiece itself; with no *_output_ file the decode
// must give the input back. hf_* come from HF tokenizers (the fast tokenizer.json).
#include <gtest/gtest.h>

#include "test_support.h"
#include "vector_files.h"

namespace supra::test {
namespace {

std::string show(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) s += std::to_string(id) + " ";
  return s;
}

void check_lines(const std::string& name) {
  const Tokenizer& tok = mistral_tokenizer();
  const auto inputs = kitoken_input_lines(tokenizer_data("kitoken/" + name + "_input.txt"));
  const auto expected = id_lines(tokenizer_data("kitoken/" + name + "_tokens_mistral01.txt"), ',');
  ASSERT_EQ(inputs.size(), expected.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(name + " line " + std::to_string(i + 1));
    EXPECT_EQ(show(tok.encode(inputs[i], false)), show(expected[i]));
    EXPECT_EQ(tok.decode(expected[i]), inputs[i]);
  }
}

TEST(KitokenSentencePiece, SmallLines) { check_lines("small"); }
TEST(KitokenSentencePiece, MixedLines) { check_lines("mixed"); }

TEST(KitokenSentencePiece, Utf8Full) {
  const Tokenizer& tok = mistral_tokenizer();
  const std::string input = read_file(tokenizer_data("kitoken/utf8_input.txt"));
  const auto expected = all_ids(tokenizer_data("kitoken/utf8_tokens_mistral01.txt"), ',');
  EXPECT_EQ(show(tok.encode(input, false)), show(expected));
  // The output differs from the input only where the input holds U+2581 "▁" itself:
  // SentencePiece cannot tell it from its own space marker and decodes it as a space.
  EXPECT_EQ(tok.decode(expected), read_file(tokenizer_data("kitoken/utf8_output_mistral01.txt")));
}

TEST(KitokenHf, Utf8FullMatchesSentencePiece) {
  EXPECT_EQ(read_file(tokenizer_data("kitoken/hf_utf8_tokens_mistral01.txt")),
            read_file(tokenizer_data("kitoken/utf8_tokens_mistral01.txt")));
  const auto ids = all_ids(tokenizer_data("kitoken/hf_utf8_tokens_mistral01.txt"), ',');
  EXPECT_EQ(mistral_tokenizer().decode(ids),
            read_file(tokenizer_data("kitoken/hf_utf8_output_mistral01.txt")));
}

// Where the HF fast tokenizer disagrees with SentencePiece, and why. We follow
// SentencePiece, which is also what HF's slow LlamaTokenizer with legacy=True does: its
// _tokenize is sp_model.encode(text) on each piece of text between special tokens.
//  1. Text that starts with a space: HF's Metaspace pre-tokenizer adds the "▁" dummy
//     prefix only when the text does not already start with one, SentencePiece always
//     adds it. So HF's ids are SentencePiece's ids for the text without its first space.
//  2. Text containing "<s>" or "</s>": HF fast (and slow) match them as special tokens
//     1 and 2; SentencePiece Encode, and so encode() here, treats them as plain text.
// The hf_*_output files are HF decode(skip_special_tokens=False) of HF's ids: one leading
// space stripped, special tokens printed.
void check_hf_lines(const std::string& name, std::size_t expected_differences) {
  const Tokenizer& tok = mistral_tokenizer();
  const auto inputs = kitoken_input_lines(tokenizer_data("kitoken/" + name + "_input.txt"));
  const auto ours = id_lines(tokenizer_data("kitoken/" + name + "_tokens_mistral01.txt"), ',');
  const auto hf = id_lines(tokenizer_data("kitoken/hf_" + name + "_tokens_mistral01.txt"), ',');
  const auto hf_text =
      kitoken_input_lines(tokenizer_data("kitoken/hf_" + name + "_output_mistral01.txt"));
  ASSERT_EQ(hf.size(), inputs.size());
  ASSERT_EQ(hf_text.size(), inputs.size());
  std::size_t differences = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(name + " line " + std::to_string(i + 1));
    const std::string& text = inputs[i];
    if (text.find("<s>") != std::string::npos) {
      // Case 2; the only such line is "<s>[PAD]</s>". HF fast puts no dummy prefix on
      // "[PAD]" (not the start of the text); the slow legacy tokenizer encodes the chunk
      // "[PAD]" on its own, dummy prefix included.
      ASSERT_EQ(text, "<s>[PAD]</s>");
      const std::vector<TokenId> chunk = tok.encode("[PAD]", false);
      std::vector<TokenId> slow_legacy = {tok.bos_id()};
      slow_legacy.insert(slow_legacy.end(), chunk.begin(), chunk.end());
      slow_legacy.push_back(tok.eos_id());
      EXPECT_EQ(tok.piece(chunk.front()), "\xE2\x96\x81[");  // "▁[": the legacy prefix
      EXPECT_EQ(show(hf[i]), show({1, 28792, 28753, 1841, 28793, 2}));
      EXPECT_NE(show(hf[i]), show(slow_legacy));
      EXPECT_EQ(tok.decode(hf[i]), "[PAD]");  // our decode drops <s> and </s>
      EXPECT_EQ(hf_text[i], text);            // HF kept them
      ++differences;
    } else if (hf[i] != ours[i]) {
      ASSERT_EQ(text.front(), ' ');  // case 1
      EXPECT_EQ(show(tok.encode(text.substr(1), false)), show(hf[i]));
      EXPECT_EQ(tok.decode(hf[i]), hf_text[i]);
      ++differences;
    } else {
      EXPECT_EQ(tok.decode(hf[i]), hf_text[i]);
    }
  }
  EXPECT_EQ(differences, expected_differences);
}

TEST(KitokenHf, SmallLinesDifferOnlyInDummyPrefixAndSpecials) { check_hf_lines("small", 5); }
TEST(KitokenHf, MixedLinesDifferOnlyInDummyPrefix) { check_hf_lines("mixed", 11); }

}  // namespace
}  // namespace supra::test
