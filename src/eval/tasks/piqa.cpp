// PIQA from the original release: valid.jsonl ({goal, sol1, sol2}) and valid-labels.lst
// (one 0/1 per line). The llm-foundry copy is not used: it lost trailing spaces (protocol §7).
#include "eval/data_file.h"
#include "eval/jsonl.h"
#include "supra/error.h"
#include "eval/tasks/tasks.h"

namespace supra::eval::tasks {

std::vector<Document> load_piqa(const std::filesystem::path& data_dir) {
  const std::string source = "piqa-original/valid.jsonl";
  const std::filesystem::path path = data_dir / source;
  const std::filesystem::path labels_path = data_dir / "piqa-original/valid-labels.lst";
  std::vector<JsonlRow> rows = read_jsonl(path);
  std::string labels_text = read_data_file(labels_path);
  std::vector<std::string_view> labels = split_lines(labels_text);
  if (labels.size() != rows.size())
    throw Error(labels_path.string() + ": " + std::to_string(labels.size()) + " labels for " +
                std::to_string(rows.size()) + " questions in " + path.string());
  std::vector<Document> docs;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (labels[i] != "0" && labels[i] != "1")
      throw Error(where(labels_path, static_cast<std::int64_t>(i) + 1) + ": label \"" + std::string(labels[i]) +
                  "\" is not 0 or 1");
    const JsonlRow& row = rows[i];
    // Solutions stay raw: lm-eval keeps their trailing spaces.
    std::vector<std::string> choices = {string_field(row, "sol1", path), string_field(row, "sol2", path)};
    std::string context = "Question: " + string_field(row, "goal", path) + "\nAnswer:";
    docs.push_back(shared_context_document("piqa", static_cast<std::int64_t>(i), std::move(context),
                                           std::move(choices), labels[i] == "1" ? 1 : 0, true, source,
                                           where(path, row.line)));
  }
  return docs;
}

}  // namespace supra::eval::tasks
