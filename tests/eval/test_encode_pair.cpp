// encode_pair (protocol §3): the whitespace move with Python's Unicode rstrip, BOS by
// profile, whole-then-split even when the context ids are not a prefix, and the Python
// whitespace helpers it rests on. (Its output on every evalref document is checked in
// test_documents.cpp.)
#include <gtest/gtest.h>

#include "eval/python_text.h"
#include "supra/error.h"
#include "supra/eval.h"
#include "test_support.h"

namespace supra::test {
namespace {

using eval::encode_pair;
using eval::EncodedRequest;
using eval::Profile;

// The Mistral SentencePiece model in the repo (add_bos on, BOS = 1).
const Tokenizer& mistral() {
  static const Tokenizer tokenizer =
      Tokenizer::load_model_file(data_dir() / "tokenizer" / "mistral-7b-v0.1.model");
  return tokenizer;
}

std::vector<TokenId> concat(std::vector<TokenId> a, const std::vector<TokenId>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(EncodePair, BosOnlyInProfileV0412) {
  EncodedRequest old_ids = encode_pair(mistral(), {"Question: Why?\nAnswer:", " A"}, Profile::V0_4_2);
  EncodedRequest new_ids = encode_pair(mistral(), {"Question: Why?\nAnswer:", " A"}, Profile::V0_4_12);
  ASSERT_FALSE(old_ids.context.empty());
  EXPECT_NE(old_ids.context.front(), mistral().bos_id());
  EXPECT_EQ(new_ids.context, concat({mistral().bos_id()}, old_ids.context));
  // The delimiter space merges into the choice's token: " A" is the single token "▁A".
  EXPECT_EQ(old_ids.continuation, (std::vector<TokenId>{330}));
  EXPECT_EQ(new_ids.continuation, old_ids.continuation);
}

TEST(EncodePair, TrailingWhitespaceMovesToTheContinuation) {
  for (Profile profile : {Profile::V0_4_2, Profile::V0_4_12}) {
    EXPECT_EQ(encode_pair(mistral(), {"Fill in: x \n", "end"}, profile).context,
              encode_pair(mistral(), {"Fill in: x", " \nend"}, profile).context);
    EXPECT_EQ(encode_pair(mistral(), {"Fill in: x \n", "end"}, profile).continuation,
              encode_pair(mistral(), {"Fill in: x", " \nend"}, profile).continuation);
    // Python's rstrip also takes Unicode spaces (no-break space, ideographic space).
    EncodedRequest moved = encode_pair(mistral(), {"Fill in: x\u00a0\u3000", "end"}, profile);
    EXPECT_EQ(moved.context, encode_pair(mistral(), {"Fill in: x", "end"}, profile).context);
    // ... but not a zero-width space, which Python does not count as whitespace.
    EncodedRequest kept = encode_pair(mistral(), {"Fill in: x\u200b", "end"}, profile);
    EXPECT_EQ(kept.context, mistral().encode("Fill in: x\u200b", profile == Profile::V0_4_12));
  }
}

TEST(EncodePair, SplitsTheWholeEncodingAtTheContextLength) {
  // "hello wor" + "ld": the context's last token "▁wor" is not in tok("hello world"), so
  // lm-eval's cut at len(tok(context)) is taken as is.
  const std::vector<TokenId> whole = mistral().encode("hello world", false);
  const std::vector<TokenId> context = mistral().encode("hello wor", false);
  ASSERT_LE(context.size(), whole.size());
  const auto split = whole.begin() + static_cast<std::ptrdiff_t>(context.size());
  ASSERT_FALSE(std::equal(context.begin(), context.end(), whole.begin(), split))
      << "precondition: the context ids are not a prefix";
  EncodedRequest ids = encode_pair(mistral(), {"hello wor", "ld"}, Profile::V0_4_2);
  EXPECT_EQ(ids.context, context);
  EXPECT_EQ(ids.continuation, std::vector<TokenId>(split, whole.end()));
}

TEST(EncodePair, EmptyContextIsRefused) {
  EXPECT_THROW(encode_pair(mistral(), {"", " x"}, Profile::V0_4_2), Error);
}

TEST(EncodePairPythonText, StripLikePython) {
  EXPECT_EQ(eval::python_strip(" \t\r\n\v\f a b \u2028\u3000\u0085"), "a b");
  EXPECT_EQ(eval::python_strip("\u00a0x\u202f"), "x");
  EXPECT_EQ(eval::python_strip("\u200bx\u200b"), "\u200bx\u200b");
  EXPECT_EQ(eval::python_strip("  "), "");
  EXPECT_EQ(eval::python_rstrip_size("é \x1f"), 2u);
  // Invalid UTF-8 is never whitespace: a stray continuation byte stays.
  EXPECT_EQ(eval::python_rstrip_size("a\x80 "), 2u);
  EXPECT_EQ(eval::python_rstrip_size("a\xa0"), 2u);
  for (char32_t c : {U'\x1c', U'\x85', U'\u1680', U'\u2000', U'\u200a', U'\u2029', U'\u205f'})
    EXPECT_TRUE(eval::is_python_space(c)) << static_cast<std::uint32_t>(c);
  for (char32_t c : {U'\x1b', U'\u180e', U'\u200b', U'\ufeff', U'a'})
    EXPECT_FALSE(eval::is_python_space(c)) << static_cast<std::uint32_t>(c);
}

}  // namespace
}  // namespace supra::test
