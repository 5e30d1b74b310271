// ARC-Easy / ARC-Challenge from llm-foundry's jsonl ({query, choices, gold}), protocol §6/§7.
#include <algorithm>

#include "eval/data_file.h"
#include "eval/jsonl.h"
#include "supra/error.h"
#include "eval/tasks/tasks.h"

namespace supra::eval::tasks {
namespace {

constexpr std::string_view kQueryStart = "Question: ";

// llm-foundry padded every 3-choice ARC question to 4 by repeating a wrong choice
// (e.g. ARC-Easy row 93: "decrease", "decrease", "increase", "remain the same"). lm-eval
// reads the original 3 choices and makes 3 requests, so exact duplicates are dropped here,
// keeping the first occurrence, and gold is moved to its choice's new index. (The
// 5-choice originals that llm-foundry cut to 4 cannot be restored: protocol §7.)
void drop_duplicate_choices(std::vector<std::string>& choices, std::int64_t& gold) {
  std::vector<std::string> kept;
  std::int64_t new_gold = gold;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    auto first = std::find(kept.begin(), kept.end(), choices[i]);
    if (static_cast<std::int64_t>(i) == gold) new_gold = first - kept.begin();
    if (first == kept.end()) kept.push_back(choices[i]);
  }
  choices = std::move(kept);
  gold = new_gold;
}

}  // namespace

std::vector<Document> load_arc(const std::filesystem::path& data_dir, const std::string& task) {
  const std::string source = "llm-foundry/" + task + ".jsonl";
  const std::filesystem::path path = data_dir / source;
  std::vector<Document> docs;
  for (const JsonlRow& row : read_jsonl(path)) {
    const std::string location = where(path, row.line);
    // query = "Question: " + question + "\n"; lm-eval's context adds "Answer:".
    std::string query = string_field(row, "query", path);
    if (!query.starts_with(kQueryStart) || !query.ends_with('\n'))
      throw Error(location + ": query does not have the form \"Question: ...\\n\"");
    std::vector<std::string> choices = string_list_field(row, "choices", path);
    std::int64_t gold = int_field(row, "gold", path);
    if (gold < 0 || gold >= static_cast<std::int64_t>(choices.size()))
      throw Error(location + ": gold " + std::to_string(gold) + " is out of range for " +
                  std::to_string(choices.size()) + " choices");
    drop_duplicate_choices(choices, gold);
    docs.push_back(shared_context_document(task, static_cast<std::int64_t>(docs.size()), query + "Answer:",
                                           std::move(choices), gold, true, source, location));
  }
  return docs;
}

}  // namespace supra::eval::tasks
