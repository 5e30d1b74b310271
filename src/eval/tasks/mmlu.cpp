// MMLU, one task per subject (mmlu_<subject>), from the cais/mmlu CSV export:
// mmlu/{dev,test}/<subject>_{dev,test}.csv with columns question,choice0..3,answer (0-3).
// Context = description + k few-shot blocks from dev (first k rows) + the test question
// (protocol §2, §6).
#include <algorithm>

#include "eval/csv.h"
#include "eval/data_file.h"
#include "eval/python_text.h"
#include "supra/error.h"
#include "eval/tasks/tasks.h"

namespace supra::eval::tasks {
namespace {

const std::vector<std::string> kHeader = {"question", "choice0", "choice1", "choice2", "choice3", "answer"};
const std::vector<std::string> kLetters = {"A", "B", "C", "D"};

struct Row {
  std::string text;  // doc_to_text: the question block ending in "Answer:"
  std::size_t answer = 0;
  std::int64_t index = 0;  // data row (0 = first row after the header)
  std::string location;
};

// The data rows of one CSV file, each turned into lm-eval's doc_to_text.
std::vector<Row> read_rows(const std::filesystem::path& path) {
  std::string name = path.string();
  std::vector<CsvRecord> records = parse_csv(read_data_file(path), name);
  if (records.empty() || records[0].fields != kHeader)
    throw Error(where(path, 1) + ": expected the header question,choice0,choice1,choice2,choice3,answer");
  std::vector<Row> rows;
  for (std::size_t i = 1; i < records.size(); ++i) {
    const CsvRecord& r = records[i];
    std::string location = where(path, r.line);
    if (r.fields.size() != kHeader.size())
      throw Error(location + ": " + std::to_string(r.fields.size()) + " fields, expected 6 (4 choices)");
    const std::string& answer = r.fields[5];
    if (answer.size() != 1 || answer[0] < '0' || answer[0] > '3')
      throw Error(location + ": answer \"" + answer + "\" is not 0, 1, 2 or 3");
    // The question is stripped, the choices are not.
    std::string text(python_strip(r.fields[0]));
    for (std::size_t c = 0; c < 4; ++c) text += "\n" + kLetters[c] + ". " + r.fields[1 + c];
    text += "\nAnswer:";
    rows.push_back({std::move(text), static_cast<std::size_t>(answer[0] - '0'), static_cast<std::int64_t>(i - 1),
                    std::move(location)});
  }
  return rows;
}

std::string description(const std::string& subject, Profile profile) {
  std::string name = subject;
  std::replace(name.begin(), name.end(), '_', ' ');
  // The YAML says "\n\n"; lm-eval up to v0.4.3 rendered it with one newline dropped.
  return "The following are multiple choice questions (with answers) about " + name + "." +
         (profile == Profile::V0_4_2 ? "\n" : "\n\n");
}

}  // namespace

std::vector<std::string> mmlu_subjects(const std::filesystem::path& data_dir) {
  const std::filesystem::path dir = data_dir / "mmlu" / "test";
  const std::string suffix = "_test.csv";
  std::error_code ec;
  std::vector<std::string> subjects;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string file = entry.path().filename().string();
    if (file.size() > suffix.size() && file.ends_with(suffix))
      subjects.push_back(file.substr(0, file.size() - suffix.size()));
  }
  if (ec) throw Error(dir.string() + ": cannot list MMLU test files: " + ec.message());
  if (subjects.empty()) throw Error(dir.string() + ": no <subject>_test.csv files");
  std::sort(subjects.begin(), subjects.end());
  return subjects;
}

std::vector<Document> load_mmlu(const std::filesystem::path& data_dir, const std::string& subject,
                                Profile profile, int num_fewshot) {
  const std::string source = "mmlu/test/" + subject + "_test.csv";
  const std::filesystem::path dev_path = data_dir / "mmlu" / "dev" / (subject + "_dev.csv");
  std::vector<Row> dev = read_rows(dev_path);
  if (num_fewshot < 0 || num_fewshot > static_cast<int>(dev.size()))
    throw Error("mmlu_" + subject + ": --num-fewshot " + std::to_string(num_fewshot) + " is not within 0.." +
                std::to_string(dev.size()) + " (the rows of " + dev_path.string() + ")");
  // lm-eval's first_n sampler: the same first k dev rows for every test question.
  std::string prefix = description(subject, profile);
  for (std::size_t k = 0; k < static_cast<std::size_t>(num_fewshot); ++k)
    prefix += dev[k].text + " " + kLetters[dev[k].answer] + "\n\n";
  std::vector<Document> docs;
  for (Row& row : read_rows(data_dir / source))
    docs.push_back(shared_context_document("mmlu_" + subject, row.index, prefix + row.text, kLetters,
                                           static_cast<std::int64_t>(row.answer),
                                           false, source, row.location));
  return docs;
}

}  // namespace supra::eval::tasks
