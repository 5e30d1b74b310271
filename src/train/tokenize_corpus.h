// Tokenizing text files into one token shard (token_shard.h): the corpus is read and tokenized
// once, training then only maps the shard.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "supra/tokenizer.h"

namespace supra::train {

// How a text file is cut into documents.
enum class DocumentSplit {
  File,        // the whole file is one document
  Lines,       // every non-blank line is a document
  Paragraphs,  // blocks separated by one or more blank lines
};
std::optional<DocumentSplit> parse_document_split(std::string_view name);  // "file" | "lines" | "paragraphs"

struct CorpusOptions {
  DocumentSplit split = DocumentSplit::File;
  bool eos = true;  // end every document with EOS (needs a tokenizer with an EOS id)
};

struct CorpusStats {
  std::uint64_t files = 0;
  std::uint64_t documents = 0;
  std::uint64_t tokens = 0;
  std::uint64_t bytes = 0;  // of text read
};

// Pieces of `text` that are documents under `split` (blank ones dropped; a trailing "\r" of a
// line is dropped too, for CRLF files).
std::vector<std::string_view> split_documents(std::string_view text, DocumentSplit split);

// Tokenizes every file (in the given order) and writes the shard atomically: each document is
// BOS + its tokens (+ EOS), with no BOS/EOS from the tokenizer's own settings.
CorpusStats tokenize_corpus(const Tokenizer& tokenizer, const std::vector<std::filesystem::path>& texts,
                            const std::filesystem::path& shard, const CorpusOptions& options);

}  // namespace supra::train
