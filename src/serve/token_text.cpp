#include "serve/token_text.h"

#include <cstdio>

namespace supra::serve {

TokenTexts::TokenTexts(const Tokenizer& tokenizer) {
  static const std::string kSpaceMark = "\xE2\x96\x81";
  for (const Tokenizer::VocabEntry& e : tokenizer.vocabulary()) {
    std::string text;
    unsigned byte = 0;
    if (e.kind == Tokenizer::PieceKind::Byte && std::sscanf(e.piece.c_str(), "<0x%2X>", &byte) == 1) {
      text.push_back(static_cast<char>(byte));
    } else if (e.kind != Tokenizer::PieceKind::Control && e.kind != Tokenizer::PieceKind::Unknown) {
      text = e.piece;
      for (std::size_t at = text.find(kSpaceMark); at != std::string::npos; at = text.find(kSpaceMark, at + 1))
        text.replace(at, kSpaceMark.size(), " ");
    }
    texts_.push_back(std::move(text));
  }
}

std::string TokenTexts::text(TokenId id, bool starts_text) const {
  if (id < 0 || static_cast<std::size_t>(id) >= texts_.size()) return {};
  const std::string& t = texts_[static_cast<std::size_t>(id)];
  return starts_text && !t.empty() && t.front() == ' ' ? t.substr(1) : t;
}

}  // namespace supra::serve
