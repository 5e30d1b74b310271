// Model.loglikelihood (one lm-eval request) and supra.evaluate's native half (the run of
// `supra eval`, its results JSON written where the Python side reads it back).
#include <pybind11/stl.h>

#include "bindings.h"
#include "supra/eval_report.h"
#include "supra/eval_run.h"
#include "supra/eval.h"

namespace supra::python {
namespace {

namespace fs = std::filesystem;

eval::Profile profile_of(const std::string& name) {
  const auto profile = eval::parse_profile(name);
  if (!profile) throw py::value_error("profile must be \"v0.4.2\" or \"v0.4.12\", got \"" + name + "\"");
  return *profile;
}

// lm-eval's loglikelihood request: (sum of the continuation's log-probabilities, whether it is
// the greedy continuation), encoded with the whitespace move and whole-then-split tokenization.
py::tuple loglikelihood(const LoadedModel& m, const std::string& context, const std::string& continuation,
                        const std::string& profile) {
  const eval::EncodedRequest request = eval::encode_pair(m.tokenizer(), {context, continuation}, profile_of(profile));
  eval::ChoiceScore score;
  {
    py::gil_scoped_release unlocked;
    m.use_threads();
    eval::Scorer scorer(m.model);
    scorer.check(request);
    score = scorer.score({request}).front();
  }
  return py::make_tuple(score.loglikelihood, score.is_greedy);
}

void run_evaluation(const LoadedModel& m, const std::vector<std::string>& tasks, const std::string& data_dir,
                    std::optional<std::int64_t> limit, std::optional<int> num_fewshot, const std::string& profile,
                    int batch_size, const std::string& results_path, const std::string& log_samples_path) {
  if (tasks.empty()) throw py::value_error("tasks must name at least one task");
  std::error_code ec;
  if (!fs::is_directory(data_dir, ec)) raise(PyExc_FileNotFoundError, "data_dir " + data_dir + " is not a folder");
  if (batch_size < 1 || batch_size > 1024)
    throw py::value_error("batch_size must be between 1 and 1024 sequences, got " + std::to_string(batch_size));
  if (num_fewshot && *num_fewshot < 0) throw py::value_error("num_fewshot must not be negative");
  eval::RunOptions options;
  options.tasks = tasks;
  options.data_dir = data_dir;
  options.limit = limit;
  options.task_options.profile = profile_of(profile);
  options.task_options.num_fewshot = num_fewshot;
  options.batch_size = batch_size;
  options.keep_token_ids = !log_samples_path.empty();
  py::gil_scoped_release unlocked;
  m.use_threads();
  const eval::EvalRun run = eval::run_eval(m.model, m.tokenizer(), options, [](std::int64_t, std::int64_t) {
    check_interrupt();  // Ctrl-C between windows of documents
  });
  const std::vector<eval::TaskReport> reports = eval::summarize(run, options.task_options);
  const std::string model_name = m.folder.string();
  const eval::RunDescription description{model_name, options, run};
  eval::write_results_json(results_path, reports, description);
  if (!log_samples_path.empty()) eval::write_log_samples(log_samples_path, run);
}

}  // namespace

void bind_eval(py::module_& m) {
  auto cls = py::reinterpret_borrow<py::class_<LoadedModel, ModelRef>>(m.attr("Model"));
  cls.def("loglikelihood", &loglikelihood, py::arg("context"), py::arg("continuation"), py::kw_only(),
          py::arg("profile") = "v0.4.2",
          "lm-eval's loglikelihood request: (log P(continuation | context), is_greedy), scored as `supra eval` "
          "scores a choice (profile v0.4.2: no BOS; v0.4.12: BOS first).");
  m.def("_evaluate", &run_evaluation, py::arg("model"), py::arg("tasks"), py::arg("data_dir"), py::arg("limit"),
        py::arg("num_fewshot"), py::arg("profile"), py::arg("batch_size"), py::arg("results_path"),
        py::arg("log_samples_path"), "supra.evaluate's native half: writes the results JSON of `supra eval`.");
}

}  // namespace supra::python
