// What an evaluation run reports, in lm-eval's shapes: per-task estimates (MMLU as a group of
// subjects), the markdown results table, the results JSON and the per-document sample log
// (the format of the shared fixtures/evalref/compare.py).
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "supra/eval_metrics.h"
#include "supra/eval_run.h"

namespace supra::eval {

struct TaskReport {
  std::string name;  // lm-eval task or group name
  bool is_group = false;
  std::int64_t available = 0;  // documents in the split (a group: in all its members')
  std::optional<int> num_fewshot;  // none for a group
  Estimate acc;
  std::optional<Estimate> acc_norm;
  std::vector<TaskReport> members;  // a group's subtasks that have scored documents
};

// One report per requested task, in the run's order. A task made of several lm-eval tasks
// (MMLU) is a group: the micro average over its members' documents with the pooled error.
std::vector<TaskReport> summarize(const EvalRun& run, const TaskOptions& options);

// What the run was, for the table's title line and the results JSON's "config".
struct RunDescription {
  const std::string& model;  // the model folder
  const RunOptions& options;
  const EvalRun& run;
};

// lm-eval's results table: a title line, then |Tasks|Version|Filter|n-shot|Metric| |Value| |Stderr|.
std::string results_table(const std::vector<TaskReport>& reports, const RunDescription& description);

// The results as lm-eval's results JSON ("results", "groups", "group_subtasks", "versions",
// "n-shot", "n-samples", "config") plus "supra" (timing), written atomically.
void write_results_json(const std::filesystem::path& path, const std::vector<TaskReport>& reports,
                        const RunDescription& description);

// One JSON line per scored document: task, doc_id, gold, loglikelihoods, is_greedy, input_len,
// truncated, acc (and acc_norm where reported), and context_ids / continuation_ids per choice
// when the run kept them. Written atomically.
void write_log_samples(const std::filesystem::path& path, const EvalRun& run);

}  // namespace supra::eval
