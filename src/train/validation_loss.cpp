#include "train/validation_loss.h"

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "supra/error.h"
#include "train/communicator.h"

namespace supra::train {

LossSum validation_loss(const TrainableModel& model, const TokenDataset& data, SequenceRange range, std::uint64_t count,
                        std::int64_t rows, ComputePrecision precision, Communicator& comm) {
  const auto W = static_cast<std::uint64_t>(comm.size()), k = static_cast<std::uint64_t>(comm.rank());
  const std::uint64_t lo = count * k / W, hi = count * (k + 1) / W;
  const std::int64_t T = data.seq_len();
  std::vector<TokenId> tokens;
  double acc[2] = {0, 0};  // Σ ce · positions, Σ positions
  for (std::uint64_t i = lo; i < hi; i += static_cast<std::uint64_t>(rows)) {
    const auto b = static_cast<std::int64_t>(std::min<std::uint64_t>(static_cast<std::uint64_t>(rows), hi - i));
    tokens.resize(static_cast<std::size_t>(b * (T + 1)));
    for (std::int64_t r = 0; r < b; ++r)
      data.read_sequence(range.begin + i + static_cast<std::uint64_t>(r),
                         std::span(tokens).subspan(static_cast<std::size_t>(r * (T + 1)), static_cast<std::size_t>(T + 1)));
    const LossTerms lt = model.loss(tokens, b, T, 0.0, precision);
    acc[0] += lt.ce * static_cast<double>(lt.positions);
    acc[1] += static_cast<double>(lt.positions);
  }
  comm.allreduce_sum(std::span<double>(acc));
  return {acc[0] / acc[1], acc[1]};
}

ShardLoss shard_loss(const std::filesystem::path& model_folder, const std::vector<std::filesystem::path>& shards,
                     std::int64_t seq_len, std::uint64_t max_sequences) {
  if (seq_len < 1) throw Error("--seq-len must be at least 1, got " + std::to_string(seq_len));
  const TokenDataset data(shards, seq_len);
  const TrainableModel model = TrainableModel::load(model_folder);
  if (data.vocab_size() > model.config().vocab_size)
    throw Error("--shard: tokenized for a vocabulary of " + std::to_string(data.vocab_size()) +
                " entries, the model has " + std::to_string(model.config().vocab_size));
  std::uint64_t count = data.sequences();
  if (max_sequences > 0) count = std::min(count, max_sequences);
  if (count == 0) throw Error("--shard: fewer tokens than one sequence of --seq-len + 1");
  LocalCommunicator one;
  const LossSum sum = validation_loss(model, data, {0, data.sequences()}, count, 8, ComputePrecision::F32, one);
  return {count, seq_len, sum.positions, sum.cross_entropy};
}

}  // namespace supra::train
