// llama.cpp's tokenizer cases (ggml-vocab-llama-spm.gguf.inp) with the Mistral ids in
// ggml-vocab-llama-spm.gguf.inp.mistral-v0.1.out: SentencePiece encode of each case, no
// BOS, one line per case, each id preceded by a space (llama.cpp's .out layout). An empty
// case gives an empty line.
#include <gtest/gtest.h>

#include "vector_files.h"

namespace supra::test {
namespace {

TEST(LlamaCppVectors, MistralIdsMatch) {
  const Tokenizer& tok = mistral_tokenizer();
  const auto cases = llama_cpp_cases(tokenizer_data("llama.cpp/ggml-vocab-llama-spm.gguf.inp"));
  const auto lines =
      raw_lines(tokenizer_data("llama.cpp/ggml-vocab-llama-spm.gguf.inp.mistral-v0.1.out"));
  ASSERT_EQ(cases.size(), 47u);
  ASSERT_EQ(lines.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i + 1));
    std::string got;
    for (TokenId id : tok.encode(cases[i], false)) got += " " + std::to_string(id);
    EXPECT_EQ(got, lines[i]);
  }
}

TEST(LlamaCppVectors, DecodeGivesTheCaseBack) {
  // Decode drops BOS and the dummy prefix (the first "▁" of the first piece), so even
  // texts that begin with spaces come back whole. Mistral's model does not normalise
  // (no NFKC, no whitespace folding), so nothing else can change.
  const Tokenizer& tok = mistral_tokenizer();
  for (const std::string& text :
       llama_cpp_cases(tokenizer_data("llama.cpp/ggml-vocab-llama-spm.gguf.inp"))) {
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
  }
}

}  // namespace
}  // namespace supra::test
