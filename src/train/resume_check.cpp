#include "train/resume_check.h"

#include <cmath>
#include <cstdio>

#include "supra/error.h"

namespace supra::train {
namespace fs = std::filesystem;

namespace {

std::string num(std::int64_t v) { return std::to_string(v); }
std::string num(std::uint64_t v) { return std::to_string(v); }

void check_settings(const std::map<std::string, std::string>& saved, const std::map<std::string, std::string>& now,
                    const fs::path& file) {
  for (const auto& [key, value] : now) {
    const auto it = saved.find(key);
    const std::string before = it == saved.end() ? "(absent)" : it->second;
    if (before != value)
      throw Error("--resume: " + key + " is " + value + " in this run but " + before + " in " + file.string() +
                  " (a resumed run must use the same settings and data)");
  }
  for (const auto& [key, value] : saved)
    if (!now.count(key)) throw Error("--resume: " + file.string() + " has a setting " + key + " this run does not know");
}

void check_log(const std::vector<StepRecord>& log, const RunFacts& run, std::int64_t step, const fs::path& file) {
  if (static_cast<std::int64_t>(log.size()) != step)
    throw Error("--resume: " + file.string() + " has " + num(static_cast<std::int64_t>(log.size())) +
                " rows, the checkpoint is of step " + num(step));
  for (std::size_t i = 0; i < log.size(); ++i) {
    const StepRecord& r = log[i];
    const auto want = static_cast<std::int64_t>(i + 1);
    const std::string row = "--resume: " + file.string() + ": row " + num(want) + " ";
    if (r.step != want) throw Error(row + "is of step " + num(r.step));
    if (r.tokens != want * run.batch_size * run.seq_len) throw Error(row + "counts " + num(r.tokens) + " tokens");
    const bool finite = std::isfinite(r.lr) && std::isfinite(r.loss) && std::isfinite(r.ce) && std::isfinite(r.z_loss) &&
                        std::isfinite(r.grad_norm) && (!r.val_loss || std::isfinite(*r.val_loss));
    if (!finite) throw Error(row + "holds a non-finite loss, gradient norm or learning rate");
  }
}

}  // namespace

void check_resume_state(const CheckpointState& saved, const RunFacts& run, const fs::path& folder) {
  const fs::path file = folder / "trainer_state.json";
  const std::string where = "--resume: " + file.string() + ": ";
  check_settings(saved.settings, run.settings, file);
  const std::int64_t step = saved.step;
  if (step < 1 || step > run.steps)
    throw Error(where + "step " + num(step) + " is outside this run's steps 1 to " + num(run.steps));
  char name[32];
  std::snprintf(name, sizeof name, "step-%08lld", static_cast<long long>(step));
  if (folder.filename() != name)
    throw Error(where + "step " + num(step) + " does not match the folder " + folder.filename().string());
  const std::int64_t tokens = step * run.batch_size * run.seq_len;
  if (saved.tokens != tokens)
    throw Error(where + "tokens " + num(saved.tokens) + " differs from step × batch × seq-len = " + num(tokens));
  const auto position = static_cast<std::uint64_t>(step * run.batch_size);
  if (saved.data_position != position)
    throw Error(where + "data_position " + num(saved.data_position) + " differs from step × batch = " + num(position));
  if (saved.epoch != position / run.train_sequences)
    throw Error(where + "epoch " + num(saved.epoch) + " differs from the epoch of data position " + num(position) +
                " (" + num(position / run.train_sequences) + ")");
  if (saved.data_seed != run.seed)
    throw Error(where + "data_seed " + num(saved.data_seed) + " differs from --seed " + num(run.seed));
  check_log(saved.log, run, step, folder / "train_log.csv");
}

}  // namespace supra::train
