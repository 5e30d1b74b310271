// State files: a State with the tokens it consumed and its last logits, as the bytes of
// docs/STATE_FORMAT.md (the server's export/import and --state-dir, `generate --prompt-cache`,
// chat's /save and /load, Python's State.to_bytes). A file belongs to one model architecture: a
// StateCodec is made for a loaded model and reads only files that fit it, trusting nothing
// (every size is checked against the model and the file's length before anything is allocated).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "supra/error.h"
#include "supra/model.h"
#include "supra/state.h"
#include "supra/token.h"

namespace supra {

struct SavedState {
  State state;
  std::vector<TokenId> tokens;  // every token the state consumed (position == tokens.size())
  // The raw logits after the last token: what the state predicts next. Empty when unknown (a
  // version 1 file, or a writer that did not keep them).
  std::vector<float> logits;
};

// The bytes are not a state file of this model: damaged, truncated, or of another model.
class InvalidStateFile : public Error {
 public:
  using Error::Error;
};

class StateCodec {
 public:
  // Token ids in a state must be below `vocab_size` (the server and the CLI pass the
  // tokenizer's vocabulary, the ids they can show as text); without it, below the model's.
  explicit StateCodec(const Model& model);
  StateCodec(const Model& model, int vocab_size);

  std::string encode(const SavedState& s) const;
  // Throws InvalidStateFile ("invalid state file: <the first check that fails>").
  SavedState decode(std::string_view bytes) const;
  // True when `bytes` is an intact state file (magic, version, checksum) written for a model of
  // another attention kind or architecture: a mistake of the operator, not a damaged file.
  bool from_another_model(std::string_view bytes) const;

  // Writes atomically (a temp file renamed over `path`: a crash leaves the old file or the new).
  void save(const std::filesystem::path& path, const SavedState& s) const;
  // Throws Error naming the path and the system's reason when the file is unreadable (io's
  // "cannot open <path>: ..."); InvalidStateFile "<path>: invalid state file: <reason>" when it
  // is not a state file of this model.
  SavedState load(const std::filesystem::path& path) const;

  // The model's identity in its files: a hash of its architecture (every config field).
  std::uint64_t fingerprint() const { return fingerprint_; }

 private:
  // Floats per layer a State of this model holds, measured from the model itself: a fixed
  // matrix (SUPRA) or per-token keys and values (softmax KV cache).
  AttentionKind attention_ = AttentionKind::Linear;
  std::size_t layers_ = 0;
  std::size_t matrix_ = 0;       // SUPRA: H·dqk·dv
  std::size_t key_width_ = 0;    // softmax: floats per token
  std::size_t value_width_ = 0;  // softmax: floats per token
  std::size_t logits_ = 0;       // the model's vocabulary: floats of a state's last logits
  std::uint64_t fingerprint_ = 0;
  int vocab_size_ = 0;
};

}  // namespace supra
