// Training checkpoints (docs/TRAINING.md): everything a run needs to continue bit for bit.
//
//   <out>/checkpoints/step-00000100/
//     config.json, model.safetensors    the parameters (float32): a loadable model folder
//     tokenizer files                   copied from the model the run started from
//     optimizer.safetensors             AdamW moments "exp_avg.<name>", "exp_avg_sq.<name>"
//     trainer_state.json                step, tokens, data position, settings of the run
//     train_log.csv                     the log up to this step
//     checksums.json                    size and CRC-32 of every other file, written last
//   <out>/checkpoints/latest -> step-00000100   (symlink, replaced atomically)
//
// A checkpoint folder is written under a temporary name and renamed into place, then `latest`
// is switched to it; the previous checkpoint stays intact until a newer one exists, so a crash
// at any moment leaves at least one complete checkpoint. Non-finite parameters or moments are
// never saved, and every value read back is checked the same way.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "train/optimizer.h"
#include "train/parameters.h"
#include "train/train_log.h"

namespace supra::train {

struct CheckpointState {
  std::int64_t step = 0;                // optimizer steps done
  std::int64_t tokens = 0;              // training tokens consumed
  std::uint64_t data_position = 0;      // training sequences consumed (position in SequenceOrder)
  std::uint64_t epoch = 0;              // epoch of the next sequence
  std::uint64_t data_seed = 0;          // seed of the data order
  std::map<std::string, std::string> settings;  // what fixes the trajectory; must match on resume
  std::vector<StepRecord> log;
};

// Writes step-<N> under `checkpoints_dir` (parameters, moments, state, config and tokenizer
// files from `model_files_dir`, then checksums.json), points `latest` at it and removes all but
// the newest `keep`. Throws supra::Error naming the tensor, and writes nothing, when a
// parameter or moment is not finite or a second moment is negative.
std::filesystem::path save_checkpoint(const std::filesystem::path& checkpoints_dir,
                                      const std::filesystem::path& model_files_dir, const ParameterSet& params,
                                      const AdamW& adam, const CheckpointState& state, int keep = 2);

// The folder `latest` points to, or without `latest` the newest step-<N> folder (a run killed
// between the two renames of its first checkpoint); throws supra::Error when there is none.
std::filesystem::path latest_checkpoint(const std::filesystem::path& checkpoints_dir);
// Whether `checkpoints_dir` holds a `latest` link (even a dangling one) or a step-<N> folder.
bool has_checkpoint(const std::filesystem::path& checkpoints_dir);

// Removes leftovers of checkpoint writes that were interrupted (temporary folders).
void remove_unfinished_checkpoints(const std::filesystem::path& checkpoints_dir);

// AdamW moments and the step count they were saved at (which must be CheckpointState::step).
struct OptimizerState {
  ParameterSet m, v;
  std::int64_t step = 0;
};

// Reads trainer_state.json and train_log.csv of a checkpoint folder (their syntax and types;
// resume_check.h compares the values with the run).
CheckpointState load_checkpoint_state(const std::filesystem::path& folder);
// Reads optimizer.safetensors; the moments get the names, shapes and order of `params`. Throws
// supra::Error naming the tensor when a moment is not finite or a second moment is negative.
OptimizerState load_optimizer_state(const std::filesystem::path& folder, const ParameterSet& params);

}  // namespace supra::train
