// The checks --resume makes on a checkpoint's trainer_state.json and train_log.csv before it
// continues from them: every field must be what this run would have written at that step.
// The checksums (checkpoint_manifest.h) catch damage; these catch a checkpoint of another run,
// a hand edit, or a writer bug, each with an error naming the field.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "train/train_checkpoint.h"

namespace supra::train {

// What the run being resumed fixes, from its options and data.
struct RunFacts {
  std::int64_t steps = 0;
  std::int64_t batch_size = 0;  // global rows per step
  std::int64_t seq_len = 0;
  std::uint64_t seed = 0;
  std::uint64_t train_sequences = 0;  // sequences of one epoch
  std::map<std::string, std::string> settings;  // what fixes the trajectory (trainer.cpp)
};

// Throws supra::Error "--resume: <file>: ..." at the first field that differs from what this
// run would have saved at `saved.step` in `folder` (named step-<N>).
void check_resume_state(const CheckpointState& saved, const RunFacts& run, const std::filesystem::path& folder);

}  // namespace supra::train
