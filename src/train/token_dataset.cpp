#include "train/token_dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "supra/error.h"
#include "train/random.h"

namespace supra::train {

TokenDataset::TokenDataset(const std::vector<std::filesystem::path>& shards, std::int64_t seq_len) : seq_len_(seq_len) {
  if (seq_len <= 0) throw Error("the sequence length must be positive");
  if (shards.empty()) throw Error("no token shards given");
  for (const auto& path : shards) {
    TokenShard s = TokenShard::open(path);
    if (vocab_size_ == 0) vocab_size_ = s.vocab_size();
    if (s.vocab_size() != vocab_size_)
      throw Error("token shard " + path.string() + " has vocabulary size " + std::to_string(s.vocab_size()) + ", but " +
                  shards.front().string() + " has " + std::to_string(vocab_size_) + " (shards of one tokenizer only)");
    starts_.push_back(total_);
    total_ += s.size();
    shards_.push_back(std::move(s));
  }
}

void TokenDataset::read_sequence(std::uint64_t index, std::span<TokenId> out) const {
  const auto len = static_cast<std::uint64_t>(seq_len_ + 1);
  if (out.size() != len || index >= sequences())
    throw Error("sequence " + std::to_string(index) + " is outside the data (" + std::to_string(sequences()) +
                " sequences)");
  std::uint64_t pos = index * len;
  std::size_t done = 0;
  // The shard holding `pos`, then the next ones while the chunk continues.
  auto shard = static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), pos) - starts_.begin() - 1);
  while (done < out.size()) {
    const TokenShard& s = shards_[shard];
    const std::uint64_t offset = pos - starts_[shard];
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(s.size() - offset, out.size() - done));
    s.read(offset, out.subspan(done, n));
    done += n;
    pos += n;
    ++shard;
  }
}

std::pair<SequenceRange, SequenceRange> split_validation(std::uint64_t sequences, double fraction) {
  if (!(fraction > 0.0 && fraction < 1.0)) throw Error("the validation fraction must be in (0, 1)");
  auto val = static_cast<std::uint64_t>(std::llround(fraction * static_cast<double>(sequences)));
  val = std::max<std::uint64_t>(val, 1);
  if (sequences < 2 || val >= sequences)
    throw Error("the data has " + std::to_string(sequences) +
                " sequences: too few to hold out a validation part and keep some for training");
  return {SequenceRange{0, sequences - val}, SequenceRange{sequences - val, val}};
}

SequenceOrder::SequenceOrder(SequenceRange range, std::uint64_t seed) : range_(range), seed_(seed) {
  if (range.count == 0) throw Error("no training sequences");
}

std::uint64_t SequenceOrder::at(std::uint64_t position) {
  const std::uint64_t epoch = epoch_of(position);
  if (epoch != cached_epoch_) {
    permutation_.resize(range_.count);
    std::iota(permutation_.begin(), permutation_.end(), range_.begin);
    SplitMix64 rng(derive_seed(seed_, epoch));
    for (std::uint64_t i = range_.count - 1; i > 0; --i) std::swap(permutation_[i], permutation_[rng.below(i + 1)]);
    cached_epoch_ = epoch;
  }
  return permutation_[position % range_.count];
}

}  // namespace supra::train
