// Tokenizer: SentencePiece with the HF LlamaTokenizer (legacy) conventions of spec §7.3.
// BOS/EOS ids and add-BOS come from the model folder's tokenizer_config.json,
// special_tokens_map.json, generation_config.json and config.json when present.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace supra {

using TokenId = std::int32_t;

class Tokenizer {
 public:
  // Loads <folder>/tokenizer.model and the special-token settings of the folder.
  static Tokenizer load_folder(const std::filesystem::path& folder);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // HF tokenizer(text).input_ids: BOS first when add_bos is set (and with_bos is true).
  std::vector<TokenId> encode(std::string_view text, bool with_bos = true) const;
  // Text of the ids, special tokens dropped, leading dummy-prefix space removed
  // (like HF decode(skip_special_tokens=True) / SentencePiece DecodeIds).
  std::string decode(const std::vector<TokenId>& ids) const;

  int vocab_size() const;
  TokenId bos_id() const;
  TokenId eos_id() const;
  bool add_bos() const;
  std::string piece(TokenId id) const;

 private:
  Tokenizer();
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
  const Tokenizer& tokenizer_;
  std::vector<TokenId> ids_;
  std::size_t printed_ = 0;  // ids_[0, printed_) are already printed
};

}  // namespace supra
