// The evaluation loop: load the requested tasks, select documents (--doc-ids, --limit), encode
// and score them in order, batch_size documents at a time, and keep what the report needs.
// Also the progress display.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supra/eval_metrics.h"
#include "supra/eval.h"

namespace supra::eval {

// lm-eval task name ("arc_easy", "mmlu_anatomy") -> the doc_ids to evaluate.
using DocIdSelection = std::map<std::string, std::vector<std::int64_t>>;

// Adds one "--doc-ids TASK=ID,ID,..." value to `selection`. Throws supra::Error naming the
// value when it is not of that form.
void add_doc_ids(DocIdSelection& selection, std::string_view text);

struct RunOptions {
  std::filesystem::path data_dir;
  std::vector<std::string> tasks;  // as given: task_names() entries or mmlu_<subject>
  TaskOptions task_options;
  std::optional<std::int64_t> limit;  // the first N documents of each lm-eval task
  DocIdSelection doc_ids;             // only these documents of the tasks it names
  int max_length = 2048;
  int batch_size = 16;                // sequences per batched model step (Scorer)
  bool keep_token_ids = false;        // for --log-samples
};

struct ScoredDocument {
  std::string task;  // lm-eval task name
  std::int64_t doc_id = 0;
  int gold = 0;
  std::vector<ChoiceScore> scores;
  Decision decision;
  std::vector<EncodedRequest> encoded;  // only with RunOptions::keep_token_ids
};

// One requested task and the lm-eval tasks it consists of (MMLU: its subjects, in order).
struct TaskSelection {
  std::string name;
  std::vector<std::string> members;
  std::map<std::string, std::int64_t> available;  // documents in each member's split
};

struct EvalRun {
  std::vector<TaskSelection> tasks;
  std::vector<ScoredDocument> documents;  // in evaluation order, grouped by task
  double seconds = 0;                     // scoring time (loading excluded)
  std::int64_t tokens_processed = 0;      // tokens the model read
};

// Called after each window of scored documents with (done, total).
using ProgressFn = std::function<void(std::int64_t, std::int64_t)>;

// Throws supra::Error for an unknown or repeated task, a --doc-ids entry naming a task that is
// not evaluated or an id that is not in its split, a non-positive limit or batch size, and what
// the loaders and the scorer throw.
EvalRun run_eval(const Model& model, const Tokenizer& tokenizer, const RunOptions& options,
                 const ProgressFn& progress = {});

// Progress on a stream: a bar redrawn in place with the rate and ETA when the stream is a
// terminal, otherwise a plain line each time another `step_percent` of the work is done (logs
// stay readable).
class ProgressDisplay {
 public:
  ProgressDisplay(std::FILE* stream, bool is_terminal, int step_percent = 5);
  void update(std::int64_t done, std::int64_t total);

 private:
  using Clock = std::chrono::steady_clock;
  std::FILE* stream_;
  bool is_terminal_;
  int step_percent_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  int last_step_ = 0;
};

}  // namespace supra::eval
