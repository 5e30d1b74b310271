// Tokenizing text files into one token shard (token_shard.h): the corpus is read and tokenized
// once, training then only maps the shard.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "supra/train.h"

namespace supra::train {

// Pieces of `text` that are documents under `split` (blank ones dropped; a trailing "\r" of a
// line is dropped too, for CRLF files).
std::vector<std::string_view> split_documents(std::string_view text, DocumentSplit split);

}  // namespace supra::train
