// HellaSwag validation from llama.cpp's text format (hellaswag_val_full.txt.bz2, read as
// published): 6 lines per item, "activity label: ctx", the gold index, then 4 endings.
//
// Not lm-eval-exact (protocol §7): lm-eval builds the query from the original rows as
// activity_label + ": " + ctx_a + " " + ctx_b.capitalize(). This file joined ctx_a and ctx_b
// without capitalising ctx_b and does not record where ctx_b starts, so that cannot be
// redone, and its own bracket clean-up already ran. We apply lm-eval's clean-up to the
// line as it is, which is what the evalref ground truth does.
#include "eval/bz2_file.h"
#include "eval/data_file.h"
#include "eval/python_text.h"
#include "supra/error.h"
#include "eval/tasks/tasks.h"

namespace supra::eval::tasks {
namespace {

constexpr std::size_t kLinesPerItem = 6;

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  std::string out;
  std::size_t pos = 0;
  for (std::size_t hit; (hit = text.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(text, pos, hit - pos);
    out.append(to);
  }
  out.append(text, pos);
  text = std::move(out);
}

// Deletes every "[...]" span, each '[' matched with the nearest ']' after it (the lazy
// regex \[.*?\]; the lines hold no newline for '.' to stop at).
std::string remove_brackets(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    std::size_t open = text.find('[', pos);
    std::size_t close = open == std::string_view::npos ? open : text.find(']', open + 1);
    if (close == std::string_view::npos) break;
    out.append(text.substr(pos, open - pos));
    pos = close + 1;
  }
  out.append(text.substr(pos));
  return out;
}

// lm-eval's HellaSwag preprocess: strip, " [title]" -> ". ", drop [...] spans, then one
// pass of "  " -> " " (a run of three spaces becomes two).
std::string clean(std::string_view line) {
  std::string text(python_strip(line));
  replace_all(text, " [title]", ". ");
  text = remove_brackets(text);
  replace_all(text, "  ", " ");
  return text;
}

}  // namespace

std::vector<Document> load_hellaswag(const std::filesystem::path& data_dir) {
  const std::filesystem::path path = data_dir / kHellaswagSource;
  return parse_hellaswag(read_bz2_file(path), path);
}

std::vector<Document> parse_hellaswag(std::string_view text, const std::filesystem::path& path) {
  const std::string source = kHellaswagSource;
  std::vector<std::string_view> lines = split_lines(text);
  if (lines.size() % kLinesPerItem != 0) {
    std::size_t first = lines.size() - lines.size() % kLinesPerItem;
    throw Error(where(path, static_cast<std::int64_t>(first) + 1) + ": item has " +
                std::to_string(lines.size() - first) + " of its 6 lines (file cut short?)");
  }
  std::vector<Document> docs;
  for (std::size_t first = 0; first < lines.size(); first += kLinesPerItem) {
    const std::string gold_location = where(path, static_cast<std::int64_t>(first) + 2);
    std::string_view gold_line = lines[first + 1];
    if (gold_line.size() != 1 || gold_line[0] < '0' || gold_line[0] > '3')
      throw Error(gold_location + ": gold \"" + std::string(gold_line) + "\" is not 0, 1, 2 or 3");
    std::vector<std::string> endings;
    for (std::size_t k = 2; k < kLinesPerItem; ++k) endings.push_back(clean(lines[first + k]));
    docs.push_back(shared_context_document("hellaswag", static_cast<std::int64_t>(docs.size()),
                                           clean(lines[first]), std::move(endings), gold_line[0] - '0', true,
                                           source, gold_location));
  }
  return docs;
}

}  // namespace supra::eval::tasks
