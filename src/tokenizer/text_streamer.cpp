// TextStreamer: prints generated text token by token with the same result as decoding the
// whole sequence at the end.
//
// Why not decode each token alone: SentencePiece drops the leading space of the first piece
// of whatever it decodes, and byte-fallback pieces only make a character together. So the
// text of ids_[printed_, end) is decoded as a continuation of the text already printed
// (Tokenizer::decode_continuation keeps that leading space), which costs O(new ids) per
// push, not O(all ids). Until some text has been printed, SentencePiece's own first-piece
// rule must decide, so the whole (still textless) sequence is decoded instead.
#include "supra/tokenizer.h"

namespace supra {

std::string TextStreamer::pending_text() const {
  if (!started_) return tokenizer_.decode(ids_);
  return tokenizer_.decode_continuation(std::span(ids_).subspan(printed_));
}

// True when the trailing byte-fallback pieces could still grow into one UTF-8 character:
// a lead byte followed by fewer continuation bytes than it announces. Printing now would
// show U+FFFD for bytes that the next piece completes. Overlong and surrogate forms are
// held back as well; holding a little too often only delays text, never changes it.
bool TextStreamer::ends_in_partial_utf8() const {
  std::size_t continuation = 0;
  for (std::size_t i = ids_.size(); i > printed_; --i) {
    const int byte = tokenizer_.byte_value(ids_[i - 1]);
    if (byte < 0) return false;
    if ((byte & 0xC0) == 0x80) {
      if (++continuation >= 3) return false;  // no lead byte can need more than three
      continue;
    }
    const std::size_t needed = byte >= 0xF0 ? 3 : byte >= 0xE0 ? 2 : byte >= 0xC0 ? 1 : 0;
    return continuation < needed;
  }
  return false;
}

std::string TextStreamer::push(TokenId id) {
  // Validate before keeping the id: a bad id must throw once, not poison later pushes.
  (void)tokenizer_.piece(id);
  ids_.push_back(id);
  if (ends_in_partial_utf8()) return {};
  return flush();
}

std::string TextStreamer::flush() {
  std::string text = pending_text();
  started_ = started_ || !text.empty();
  printed_ = ids_.size();
  return text;
}

}  // namespace supra
