// Token shards: a corpus tokenized once into a flat binary file that training maps into memory
// (docs/TRAINING.md). Layout, all little-endian:
//
//   offset  size  field
//   0       8     magic "SUPRATOK"
//   8       4     format version (1)
//   12      4     token width in bytes: 2 (vocabulary ≤ 65536) or 4
//   16      4     vocabulary size of the tokenizer that wrote it
//   20      4     reserved, 0
//   24      8     token count N
//   32      8     document count
//   40      N·width  the tokens: each document is BOS, its text's tokens, then EOS (unless
//                    written without EOS), documents back to back
//
// The file size must be exactly 40 + N·width, so a truncated copy is detected when opened.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "io/mapped_file.h"
#include "supra/tokenizer.h"

namespace supra::train {

inline constexpr char kShardMagic[8] = {'S', 'U', 'P', 'R', 'A', 'T', 'O', 'K'};
inline constexpr std::uint32_t kShardVersion = 1;
inline constexpr std::size_t kShardHeaderBytes = 40;

// Streams documents into a shard: the tokens go to a temporary file beside the target, the
// header is completed by finish(), which syncs and renames it into place. Destroying an
// unfinished writer removes the temporary file.
class ShardWriter {
 public:
  ShardWriter(const std::filesystem::path& path, int vocab_size);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends one document's tokens (already with BOS/EOS); every id must be in [0, vocab).
  void add_document(std::span<const TokenId> tokens);
  void finish();

  std::uint64_t tokens() const { return tokens_; }
  std::uint64_t documents() const { return documents_; }

 private:
  void write_bytes(const void* data, std::size_t n);

  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  int vocab_size_;
  std::uint32_t width_;
  std::uint64_t tokens_ = 0;
  std::uint64_t documents_ = 0;
  std::vector<std::byte> buffer_;
};

// A shard opened for reading (memory-mapped, validated on open).
class TokenShard {
 public:
  // Throws supra::Error naming the file on a bad magic, unknown version or width, or a size
  // that disagrees with the header (truncated or padded file).
  static TokenShard open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  int vocab_size() const { return vocab_size_; }
  std::uint64_t size() const { return count_; }  // tokens
  std::uint64_t documents() const { return documents_; }
  // Copies tokens [begin, begin + out.size()) into `out`; throws supra::Error when the range
  // is out of the file or a token is not below the shard's vocabulary size.
  void read(std::uint64_t begin, std::span<TokenId> out) const;

 private:
  explicit TokenShard(MappedFile file) : file_(std::move(file)) {}
  MappedFile file_;
  std::uint32_t width_ = 0;
  int vocab_size_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t documents_ = 0;
};

}  // namespace supra::train
