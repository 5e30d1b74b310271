#include "vector_files.h"

#include <sstream>

#include "test_support.h"

namespace supra::test {
namespace fs = std::filesystem;

const Tokenizer& mistral_tokenizer() {
  static const Tokenizer tokenizer =
      Tokenizer::load_model_file(tokenizer_data("mistral-7b-v0.1.model"));
  return tokenizer;
}

fs::path tokenizer_data(const std::string& relative) { return data_dir() / "tokenizer" / relative; }

static void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

std::vector<std::string> raw_lines(const fs::path& file) {
  std::istringstream in(read_file(file));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> kitoken_input_lines(const fs::path& file) {
  std::vector<std::string> cases;
  for (std::string line : raw_lines(file)) {
    if (line.empty()) continue;
    replace_all(line, "\\n", "\n");
    replace_all(line, "\\s", " ");
    replace_all(line, "\\x", "");
    cases.push_back(line);
  }
  return cases;
}

static std::vector<TokenId> parse_ids(const std::string& line, char separator) {
  std::vector<TokenId> ids;
  std::istringstream in(line);
  for (std::string field; std::getline(in, field, separator);)
    if (field.find_first_not_of(' ') != std::string::npos) ids.push_back(std::stoi(field));
  return ids;
}

std::vector<std::vector<TokenId>> id_lines(const fs::path& file, char separator) {
  std::vector<std::vector<TokenId>> cases;
  for (const std::string& line : raw_lines(file))
    if (!line.empty()) cases.push_back(parse_ids(line, separator));
  return cases;
}

std::vector<TokenId> all_ids(const fs::path& file, char separator) {
  std::vector<TokenId> ids;
  for (const auto& line : id_lines(file, separator))
    ids.insert(ids.end(), line.begin(), line.end());
  return ids;
}

std::vector<std::string> llama_cpp_cases(const fs::path& file) {
  const std::string text = read_file(file);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  std::size_t begin = 0;
  for (std::size_t at; (at = text.find(separator, begin)) != std::string::npos;
       begin = at + separator.size())
    cases.push_back(text.substr(begin, at - begin));
  cases.push_back(text.substr(begin));
  return cases;
}

}  // namespace supra::test
