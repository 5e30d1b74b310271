// WinoGrande from llm-foundry's jsonl ({context_options[2], continuation, gold}), protocol §6.
// lm-eval's "multiple input" form: one context per option (sentence up to the blank, filled
// in), one shared continuation (" " + the rest of the sentence). The choices are the contexts.
#include "eval/data_file.h"
#include "eval/jsonl.h"
#include "supra/error.h"
#include "eval/tasks/tasks.h"

namespace supra::eval::tasks {

std::vector<Document> load_winogrande(const std::filesystem::path& data_dir) {
  const std::string source = "llm-foundry/winogrande.jsonl";
  const std::filesystem::path path = data_dir / source;
  std::vector<Document> docs;
  for (const JsonlRow& row : read_jsonl(path)) {
    const std::string location = where(path, row.line);
    std::vector<std::string> contexts = string_list_field(row, "context_options", path);
    if (contexts.size() != 2)
      throw Error(location + ": " + std::to_string(contexts.size()) + " context options, expected 2");
    std::string continuation = " " + string_field(row, "continuation", path);
    std::int64_t gold = int_field(row, "gold", path);
    if (gold != 0 && gold != 1) throw Error(location + ": gold " + std::to_string(gold) + " is not 0 or 1");
    Document doc;
    doc.task = "winogrande";
    doc.doc_id = static_cast<std::int64_t>(docs.size());
    for (const std::string& context : contexts) doc.requests.push_back({context, continuation});
    doc.choices = std::move(contexts);
    doc.gold = static_cast<int>(gold);
    doc.reports_acc_norm = false;
    doc.source_file = source;
    doc.source_row = doc.doc_id;
    docs.push_back(std::move(doc));
  }
  return docs;
}

}  // namespace supra::eval::tasks
