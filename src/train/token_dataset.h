// Training data as packed sequences: one or more token shards read as one stream and cut into
// consecutive, non-overlapping chunks of seq_len + 1 tokens (inputs [0, T), targets [1, T]),
// as open_lm packs its 2049-token chunks (spec §8.2). A chunk may span two shards; the tail
// shorter than a chunk is not used.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "train/token_shard.h"

namespace supra::train {

class TokenDataset {
 public:
  // Opens every shard; they must share one vocabulary size.
  TokenDataset(const std::vector<std::filesystem::path>& shards, std::int64_t seq_len);

  std::int64_t seq_len() const { return seq_len_; }
  int vocab_size() const { return vocab_size_; }
  std::uint64_t tokens() const { return total_; }
  std::uint64_t sequences() const { return total_ / static_cast<std::uint64_t>(seq_len_ + 1); }
  // Copies sequence `index` (seq_len + 1 tokens) into `out`.
  void read_sequence(std::uint64_t index, std::span<TokenId> out) const;

 private:
  std::vector<TokenShard> shards_;
  std::vector<std::uint64_t> starts_;  // first stream position of each shard
  std::int64_t seq_len_;
  int vocab_size_ = 0;
  std::uint64_t total_ = 0;
};

// A contiguous range of sequence indices of a dataset: the training or the held-out part.
struct SequenceRange {
  std::uint64_t begin = 0;
  std::uint64_t count = 0;
};

// Training and validation ranges when the validation set is the last `fraction` of the
// sequences (at least one sequence each side; throws supra::Error when that is impossible).
std::pair<SequenceRange, SequenceRange> split_validation(std::uint64_t sequences, double fraction);

// The training order: epoch e visits the range in a Fisher–Yates permutation drawn from
// (seed, e); position p of the run is element p mod n of epoch p / n. The order depends only
// on the seed and the range, so a resumed run sees exactly the sequences the interrupted one
// would have seen.
class SequenceOrder {
 public:
  SequenceOrder(SequenceRange range, std::uint64_t seed);
  std::uint64_t epoch_of(std::uint64_t position) const { return position / range_.count; }
  // Sequence index (in the dataset) at `position`; positions must be visited in increasing
  // epochs for speed (one epoch's permutation is kept), but any order is correct.
  std::uint64_t at(std::uint64_t position);

 private:
  SequenceRange range_;
  std::uint64_t seed_;
  std::uint64_t cached_epoch_ = UINT64_MAX;
  std::vector<std::uint64_t> permutation_;
};

}  // namespace supra::train
