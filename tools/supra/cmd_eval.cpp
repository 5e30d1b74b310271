// supra eval: the model card's benchmarks scored as lm-evaluation-harness scores them
// (shared docs/lm-eval-protocol.md): the results table on stdout, progress on stderr,
// optionally lm-eval's results JSON and a per-document sample log.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "supra/eval_report.h"
#include "supra/eval_run.h"
#include "supra/error.h"
#include "supra/eval.h"

namespace supra::cli {
namespace {

namespace fs = std::filesystem;

// Sequences per batched step: beyond this a step holds more forked states (and activations)
// than it gains in speed.
constexpr int kMaxBatchSize = 1024;

struct EvalFlags {
  std::string model;
  std::string tasks;
  std::string data_dir;
  std::string profile = "v0.4.2";
  std::optional<std::int64_t> limit;
  std::optional<int> num_fewshot;
  std::vector<std::string> doc_ids;
  std::string output;
  std::string log_samples;
  int batch_size = 16;
  int threads = 0;
};

// Task names are checked here, before the model loads; an unknown MMLU subject is reported by
// the loader, which knows the data folder.
std::vector<std::string> split_tasks(const std::string& text) {
  const std::vector<std::string>& known = eval::task_names();
  std::vector<std::string> tasks;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    std::string name = text.substr(at, comma - at);
    const bool subject = name.starts_with("mmlu_") && name.size() > 5;
    if (!subject && std::find(known.begin(), known.end(), name) == known.end()) {
      std::string names;
      for (const std::string& k : known) names += k + ", ";
      throw Error("unknown task \"" + name + "\" in --tasks (known: " + names + "mmlu_<subject>)");
    }
    tasks.push_back(std::move(name));
    at = comma + 1;
  }
  return tasks;
}

// A run can take hours; an output that cannot be written should fail before it starts.
void check_output_folder(const std::string& flag, const std::string& path) {
  if (path.empty()) return;
  const fs::path parent = fs::absolute(path).parent_path();
  if (!fs::is_directory(parent)) throw Error(flag + ": folder " + parent.string() + " does not exist");
}

eval::RunOptions run_options(const EvalFlags& f) {
  eval::RunOptions o;
  const auto profile = eval::parse_profile(f.profile);
  if (!profile) throw Error("--profile must be v0.4.2 or v0.4.12, got \"" + f.profile + "\"");
  o.task_options.profile = *profile;
  o.task_options.num_fewshot = f.num_fewshot;
  if (f.num_fewshot && *f.num_fewshot < 0)
    throw Error("--num-fewshot must not be negative, got " + std::to_string(*f.num_fewshot));
  o.tasks = split_tasks(f.tasks);
  o.data_dir = f.data_dir;
  if (!fs::is_directory(o.data_dir)) throw Error("--data-dir: folder " + f.data_dir + " not found");
  o.limit = f.limit;
  if (f.batch_size < 1 || f.batch_size > kMaxBatchSize)
    throw Error("--batch-size must be between 1 and " + std::to_string(kMaxBatchSize) + " sequences, got " +
                std::to_string(f.batch_size));
  o.batch_size = f.batch_size;
  for (const std::string& text : f.doc_ids) eval::add_doc_ids(o.doc_ids, text);
  o.keep_token_ids = !f.log_samples.empty();
  return o;
}

void run(const EvalFlags& f) {
  apply_threads(f.threads);
  const eval::RunOptions options = run_options(f);  // every flag checked before the model loads
  check_output_folder("--output", f.output);
  check_output_folder("--log-samples", f.log_samples);
  const fs::path folder = model_folder(f.model);
  const Model model = Model::load(folder);
  const Tokenizer tokenizer = Tokenizer::load_folder(folder);

  eval::ProgressDisplay display(stderr, isatty(fileno(stderr)) != 0);
  const eval::EvalRun result =
      eval::run_eval(model, tokenizer, options, [&](std::int64_t done, std::int64_t total) { display.update(done, total); });
  const std::vector<eval::TaskReport> reports = eval::summarize(result, options.task_options);
  const std::string model_name = folder.string();
  const eval::RunDescription description{model_name, options, result};
  if (!f.output.empty()) eval::write_results_json(f.output, reports, description);
  if (!f.log_samples.empty()) eval::write_log_samples(f.log_samples, result);
  std::fputs(eval::results_table(reports, description).c_str(), stdout);
  std::fflush(stdout);
  const double seconds = result.seconds > 0 ? result.seconds : 1e-9;
  std::fprintf(stderr, "eval: %zu documents in %.1f s: %.2f items/s, %.0f tokens/s read\n", result.documents.size(),
               result.seconds, static_cast<double>(result.documents.size()) / seconds,
               static_cast<double>(result.tokens_processed) / seconds);
}

}  // namespace

void add_eval(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* cmd = app.add_subcommand("eval", "score benchmarks the way lm-evaluation-harness does");
  add_model_option(*cmd, flags->model);
  cmd->add_option("--tasks", flags->tasks,
                  "comma-separated: hellaswag, piqa, winogrande, arc_easy, arc_challenge, mmlu, mmlu_<subject>")
      ->required();
  cmd->add_option("--data-dir", flags->data_dir, "data folder laid out like the shared assets/eval")->required();
  cmd->add_option("--profile", flags->profile, "lm-eval behaviour: v0.4.2 (default, no BOS) or v0.4.12 (BOS)");
  cmd->add_option("--limit", flags->limit, "only the first N documents of each task (MMLU: of each subject)");
  cmd->add_option("--num-fewshot", flags->num_fewshot, "few-shot examples (default: 5 for MMLU, 0 for the others)");
  cmd->add_option("--doc-ids", flags->doc_ids,
                  "TASK=ID,ID,...: only these lm-eval doc_ids of TASK (repeatable; mmlu_<subject> for MMLU); "
                  "tasks not named are evaluated in full, as lm-eval --samples does");
  cmd->add_option("-b,--batch-size", flags->batch_size,
                  "sequences per batched model step: the choices of several documents scored together "
                  "(default 16; 1 scores one sequence at a time)");
  cmd->add_option("-o,--output", flags->output, "write lm-eval's results JSON here");
  cmd->add_option("--log-samples", flags->log_samples, "write one JSON line per document here");
  add_threads_option(*cmd, flags->threads);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
