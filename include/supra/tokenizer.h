// Tokenizer: SentencePiece with the HF LlamaTokenizer (legacy) conventions of spec §7.3.
// BOS/EOS ids come from tokenizer.model, overridden by config.json and then
// generation_config.json when present; add-BOS/add-EOS come from tokenizer_config.json.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "supra/token.h"

namespace supra {

class Tokenizer {
 public:
  // Loads <folder>/tokenizer.model and the special-token settings of the folder.
  static Tokenizer load_folder(const std::filesystem::path& folder);
  // Loads a bare SentencePiece model file: the model's BOS/EOS, add_bos on, add_eos off.
  static Tokenizer load_model_file(const std::filesystem::path& model_file);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // HF tokenizer(text).input_ids: BOS first when add_bos is set (and with_bos is true),
  // EOS last when add_eos is set. with_bos = false is HF add_special_tokens=False: no
  // special ids at all. Text such as "<s>" is plain text here (SentencePiece Encode).
  std::vector<TokenId> encode(std::string_view text, bool with_bos = true) const;
  // Text of the ids with special tokens (<s>, </s>, <unk>) dropped and the leading
  // dummy-prefix space removed (HF decode(skip_special_tokens=True) / SentencePiece DecodeIds).
  std::string decode(const std::vector<TokenId>& ids) const;

  int vocab_size() const;
  TokenId bos_id() const;
  // The first of eos_ids(), or -1 when neither the model nor the folder defines an EOS.
  TokenId eos_id() const;
  // Every id that ends generation (HF eos_token_id may be a list).
  const std::vector<TokenId>& eos_ids() const;
  bool add_bos() const;
  bool add_eos() const;
  std::string piece(TokenId id) const;

  // Every piece of the SentencePiece model with its score and kind, in id order (what GGUF's
  // tokenizer.ggml.tokens / scores / token_type hold).
  enum class PieceKind { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };  // llama.cpp's ids
  struct VocabEntry {
    std::string piece;
    float score = 0;
    PieceKind kind = PieceKind::Normal;
  };
  std::vector<VocabEntry> vocabulary() const;

 private:
  friend class TextStreamer;
  Tokenizer();
  // Text of ids that follow already decoded, non-empty text: unlike decode(), the first
  // piece keeps its leading space.
  std::string decode_continuation(std::span<const TokenId> ids) const;
  // The byte of a byte-fallback piece such as <0xE2>, or -1 for any other piece.
  int byte_value(TokenId id) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Turns a growing id sequence into text chunks that are safe to print as they come:
// a chunk never ends inside a UTF-8 sequence made of byte-fallback tokens, and the
// leading-space rule of SentencePiece applies only to the first token of the text.
class TextStreamer {
 public:
  explicit TextStreamer(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  // Adds one id and returns the text that became printable (possibly empty).
  std::string push(TokenId id);
  // Returns whatever is still held back (an incomplete UTF-8 tail), decoded as is.
  std::string flush();

 private:
  // Text of ids_[printed_, end) as it appears in decode(ids_).
  std::string pending_text() const;
  bool ends_in_partial_utf8() const;

  const Tokenizer& tokenizer_;
  std::vector<TokenId> ids_;
  std::size_t printed_ = 0;  // ids_[0, printed_) are already printed
  bool started_ = false;     // some non-empty text has been printed
};

}  // namespace supra
