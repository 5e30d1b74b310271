// The up-training loop (spec §8): packed sequences in a seeded order, gradient accumulation,
// data parallelism over a Communicator, AdamW with warmup + cosine LR and global-norm clipping,
// held-out validation, atomic checkpoints with bit-for-bit resume, a CSV log and a loss plot.
//
// Data parallelism: the global batch of `batch_size` rows per step is cut into
// world_size × grad_accum micro-batches of equal size; rank k computes micro-batches
// k·grad_accum … (k+1)·grad_accum − 1. Gradients and loss terms are summed over ranks and
// divided by their number, so a step equals the same step of one process with the same global
// batch (to float rounding). Only rank 0 writes files.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "train/communicator.h"
#include "train/optimizer.h"
#include "train/trainable_model.h"

namespace supra::train {

struct TrainOptions {
  std::filesystem::path model;  // starting model folder (ignored when resuming)
  std::filesystem::path out;    // run folder: log, plot, checkpoints/, model/
  std::vector<std::filesystem::path> data;
  std::vector<std::filesystem::path> val_data;  // held-out shards, or
  double val_fraction = 0;                      // the last fraction of the training sequences
  std::int64_t seq_len = 2048;
  std::int64_t batch_size = 8;  // global rows per optimizer step
  std::int64_t grad_accum = 1;  // micro-batches per step on each rank
  std::int64_t steps = 0;
  double lr = 3e-4;
  double end_lr = 1e-5;
  std::int64_t warmup = 0;
  AdamWConfig adam;
  double grad_clip = 1.0;  // 0: no clipping
  double z_loss = 0;
  ComputePrecision precision = ComputePrecision::F32;
  std::uint64_t seed = 0;
  std::int64_t eval_every = 0;  // steps between validations (0: only after the last step)
  std::int64_t eval_batches = 8;  // validation batches of batch_size rows (fewer if the set is smaller)
  std::int64_t checkpoint_every = 0;  // 0: no checkpoints
  bool resume = false;
  int threads = 0;  // OpenMP threads per rank (0: the runtime's default)
  bool progress = true;  // progress on stderr (rank 0)
};

struct TrainSummary {
  std::int64_t steps = 0;  // total optimizer steps of the run
  double last_loss = 0;
  std::optional<double> last_val_loss;
  std::filesystem::path model_dir;  // the exported final model
};

// Checks the options (sizes, ranges, files); throws supra::Error with the flag's name.
void validate_options(const TrainOptions& options, int world_size);

TrainSummary train(const TrainOptions& options, Communicator& comm);

}  // namespace supra::train
