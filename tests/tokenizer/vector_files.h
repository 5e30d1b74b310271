// Readers for the third-party tokenizer test-vector formats in tests/data/tokenizer
// (provenance in tests/data/tokenizer/SOURCES.md), and the shared Mistral tokenizer.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "supra/tokenizer.h"

namespace supra::test {

// The Mistral-7B-v0.1 tokenizer.model, loaded once for all tests.
const Tokenizer& mistral_tokenizer();
std::filesystem::path tokenizer_data(const std::string& relative);

// kitoken "lines" inputs: one case per non-empty line, with the escapes kitoken's test
// harness expands: a literal \n is a newline, \s a space, and \x is removed.
std::vector<std::string> kitoken_input_lines(const std::filesystem::path& file);
// kitoken id files: one case per non-empty line, ids separated by ", ".
std::vector<std::vector<TokenId>> id_lines(const std::filesystem::path& file, char separator);
// The whole id file as one sequence (kitoken "full" tests: utf8).
std::vector<TokenId> all_ids(const std::filesystem::path& file, char separator);
// Every line of a text file without its newline, empty lines kept.
std::vector<std::string> raw_lines(const std::filesystem::path& file);
// llama.cpp .inp files: cases separated by "\n__ggml_vocab_test__\n"; the file ends with a
// separator, so the last case is the empty text (as Python's str.split gives it).
std::vector<std::string> llama_cpp_cases(const std::filesystem::path& file);

}  // namespace supra::test
