// The validation loss: the one definition of the held-out loss the trainer logs and
// `supra perplexity --shard` prints (supra/train.h shard_loss).
#pragma once
#include <cstdint>

#include "supra/train.h"
#include "train/token_dataset.h"
#include "train/trainable_model.h"

namespace supra::train {

struct LossSum {
  double cross_entropy = 0;  // mean over the scored positions
  double positions = 0;      // scored positions, every rank's together
};

// Mean cross-entropy over the first `count` sequences of `range` (seq_len + 1 tokens each, every
// position scored from an empty state), read `rows` at a time and split evenly over the ranks;
// position-weighted, so the split and `rows` change the value only by float rounding (the
// products may sum in another order for another row count).
LossSum validation_loss(const TrainableModel& model, const TokenDataset& data, SequenceRange range, std::uint64_t count,
                        std::int64_t rows, ComputePrecision precision, Communicator& comm);

}  // namespace supra::train
