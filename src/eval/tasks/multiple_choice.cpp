#include "supra/error.h"
#include "eval/tasks/tasks.h"

namespace supra::eval::tasks {

Document shared_context_document(std::string task, std::int64_t row, std::string context,
                                 std::vector<std::string> choices, std::int64_t gold, bool reports_acc_norm,
                                 const std::string& source_file, const std::string& location) {
  if (choices.size() < 2)
    throw Error(location + ": " + std::to_string(choices.size()) + " answer choices, need at least 2");
  if (gold < 0 || gold >= static_cast<std::int64_t>(choices.size()))
    throw Error(location + ": gold " + std::to_string(gold) + " is out of range for " +
                std::to_string(choices.size()) + " choices");
  Document doc;
  doc.task = std::move(task);
  doc.doc_id = row;
  for (const std::string& choice : choices) doc.requests.push_back({context, " " + choice});
  doc.choices = std::move(choices);
  doc.gold = static_cast<int>(gold);
  doc.reports_acc_norm = reports_acc_norm;
  doc.source_file = source_file;
  doc.source_row = row;
  return doc;
}

}  // namespace supra::eval::tasks
