// Per-task readers: one data format (and lm-eval task family) per file. Each returns the
// documents of the evaluation split in file order, doc_id = row index (protocol §6, §7).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "supra/eval.h"

namespace supra::eval::tasks {

// A document whose choices share one context (all tasks but WinoGrande): one request
// (context, " " + choice) per choice. Checks gold against the choices (file:line on error).
Document shared_context_document(std::string task, std::int64_t row, std::string context,
                                 std::vector<std::string> choices, std::int64_t gold, bool reports_acc_norm,
                                 const std::string& source_file, const std::string& location);

// task = "arc_easy" | "arc_challenge": llm-foundry/<task>.jsonl.
std::vector<Document> load_arc(const std::filesystem::path& data_dir, const std::string& task);
// piqa-original/valid.jsonl + valid-labels.lst.
std::vector<Document> load_piqa(const std::filesystem::path& data_dir);
// llm-foundry/winogrande.jsonl.
std::vector<Document> load_winogrande(const std::filesystem::path& data_dir);
inline constexpr const char* kHellaswagSource = "hellaswag/hellaswag_val_full.txt.bz2";
// hellaswag/hellaswag_val_full.txt.bz2.
std::vector<Document> load_hellaswag(const std::filesystem::path& data_dir);
// The decompressed text of that file; `path` names it in error messages.
std::vector<Document> parse_hellaswag(std::string_view text, const std::filesystem::path& path);

// The subjects with a file in mmlu/test, alphabetical.
std::vector<std::string> mmlu_subjects(const std::filesystem::path& data_dir);
// mmlu/test/<subject>_test.csv with the first num_fewshot rows of mmlu/dev/<subject>_dev.csv.
std::vector<Document> load_mmlu(const std::filesystem::path& data_dir, const std::string& subject,
                                Profile profile, int num_fewshot);

}  // namespace supra::eval::tasks
