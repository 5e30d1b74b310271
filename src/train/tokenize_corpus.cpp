#include "train/tokenize_corpus.h"

#include <fstream>
#include <sstream>

#include "supra/error.h"
#include "train/token_shard.h"

namespace supra::train {

std::optional<DocumentSplit> parse_document_split(std::string_view name) {
  if (name == "file") return DocumentSplit::File;
  if (name == "lines") return DocumentSplit::Lines;
  if (name == "paragraphs") return DocumentSplit::Paragraphs;
  return std::nullopt;
}

namespace {

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos; }

std::string_view without_cr(std::string_view line) {
  return line.ends_with('\r') ? line.substr(0, line.size() - 1) : line;
}

}  // namespace

std::vector<std::string_view> split_documents(std::string_view text, DocumentSplit split) {
  std::vector<std::string_view> docs;
  if (split == DocumentSplit::File) {
    if (!is_blank(text)) docs.push_back(text);
    return docs;
  }
  // Walk the lines; a paragraph runs from its first non-blank line to the last one before a
  // blank line (the newlines inside it are kept).
  std::size_t para_begin = std::string_view::npos, para_end = 0;
  for (std::size_t pos = 0; pos <= text.size();) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = without_cr(text.substr(pos, nl - pos));
    if (split == DocumentSplit::Lines) {
      if (!is_blank(line)) docs.push_back(line);
    } else if (is_blank(line)) {
      if (para_begin != std::string_view::npos) docs.push_back(text.substr(para_begin, para_end - para_begin));
      para_begin = std::string_view::npos;
    } else {
      if (para_begin == std::string_view::npos) para_begin = pos;
      para_end = pos + line.size();
    }
    pos = nl + 1;
  }
  if (para_begin != std::string_view::npos) docs.push_back(text.substr(para_begin, para_end - para_begin));
  return docs;
}

CorpusStats tokenize_corpus(const Tokenizer& tokenizer, const std::vector<std::filesystem::path>& texts,
                            const std::filesystem::path& shard, const CorpusOptions& options) {
  if (texts.empty()) throw Error("no text files to tokenize");
  if (options.eos && tokenizer.eos_id() < 0)
    throw Error("the tokenizer defines no EOS token: write the shard without EOS (--no-eos)");
  ShardWriter writer(shard, tokenizer.vocab_size());
  CorpusStats stats;
  std::vector<TokenId> doc;
  for (const auto& path : texts) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read text file " + path.string());
    std::ostringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    for (std::string_view piece : split_documents(text, options.split)) {
      doc.assign(1, tokenizer.bos_id());
      const std::vector<TokenId> ids = tokenizer.encode(piece, /*with_bos=*/false);
      doc.insert(doc.end(), ids.begin(), ids.end());
      if (options.eos) doc.push_back(tokenizer.eos_id());
      writer.add_document(doc);
    }
    ++stats.files;
    stats.bytes += text.size();
  }
  writer.finish();
  stats.documents = writer.documents();
  stats.tokens = writer.tokens();
  return stats;
}

}  // namespace supra::train
