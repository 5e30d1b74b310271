// The task list, profiles and load_documents: which reader a task name goes to, and the
// few-shot setting each task accepts.
#include <algorithm>
#include <iterator>

#include "supra/error.h"
#include "supra/eval.h"
#include "eval/tasks/tasks.h"

namespace supra::eval {
namespace {

constexpr std::string_view kMmluPrefix = "mmlu_";
constexpr int kMmluDefaultShots = 5;

std::string known_tasks() {
  std::string names;
  for (const std::string& t : task_names()) names += t + ", ";
  return names + "mmlu_<subject>";
}

// The zero-shot tasks have no split to draw examples from in the local data, so only 0 is
// accepted (lm-eval would sample from the eval split itself).
void require_zero_shot(const std::string& task, const TaskOptions& options) {
  if (options.num_fewshot.value_or(0) != 0)
    throw Error(task + ": --num-fewshot " + std::to_string(*options.num_fewshot) +
                " is not supported: this task has no few-shot split (use 0)");
}

}  // namespace

std::optional<Profile> parse_profile(std::string_view name) {
  if (name == "v0.4.2") return Profile::V0_4_2;
  if (name == "v0.4.12") return Profile::V0_4_12;
  return std::nullopt;
}

std::string_view profile_name(Profile profile) {
  return profile == Profile::V0_4_2 ? "v0.4.2" : "v0.4.12";
}

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"hellaswag", "piqa", "winogrande", "arc_easy", "arc_challenge",
                                                 "mmlu"};
  return names;
}

std::vector<Document> load_documents(const std::string& task, const std::filesystem::path& data_dir,
                                     const TaskOptions& options) {
  if (task == "mmlu" || task.starts_with(kMmluPrefix)) {
    int shots = options.num_fewshot.value_or(kMmluDefaultShots);
    if (task != "mmlu") {
      std::string subject = task.substr(kMmluPrefix.size());
      std::vector<std::string> subjects = tasks::mmlu_subjects(data_dir);
      if (!std::binary_search(subjects.begin(), subjects.end(), subject))
        throw Error("unknown MMLU subject \"" + subject + "\": no mmlu/test/" + subject + "_test.csv in " +
                    data_dir.string());
      return tasks::load_mmlu(data_dir, subject, options.profile, shots);
    }
    std::vector<Document> docs;
    for (const std::string& subject : tasks::mmlu_subjects(data_dir)) {
      std::vector<Document> part = tasks::load_mmlu(data_dir, subject, options.profile, shots);
      docs.insert(docs.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
    return docs;
  }
  const std::vector<std::string>& names = task_names();
  if (std::find(names.begin(), names.end(), task) == names.end())
    throw Error("unknown task \"" + task + "\" (known: " + known_tasks() + ")");
  require_zero_shot(task, options);
  if (task == "hellaswag") return tasks::load_hellaswag(data_dir);
  if (task == "piqa") return tasks::load_piqa(data_dir);
  if (task == "winogrande") return tasks::load_winogrande(data_dir);
  return tasks::load_arc(data_dir, task);
}

}  // namespace supra::eval
