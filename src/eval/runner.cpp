#include "supra/eval_run.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "supra/error.h"

namespace supra::eval {
namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The requested tasks' documents, loaded, and the lm-eval tasks they make up.
struct Loaded {
  std::vector<TaskSelection> tasks;
  std::vector<Document> documents;
};

Loaded load_all(const RunOptions& options) {
  Loaded loaded;
  std::set<std::string> seen;
  for (const std::string& name : options.tasks) {
    if (!seen.insert(name).second) throw Error("task \"" + name + "\" is given twice");
    TaskSelection task{name, {}, {}};
    for (Document& doc : load_documents(name, options.data_dir, options.task_options)) {
      if (task.available.find(doc.task) == task.available.end()) task.members.push_back(doc.task);
      ++task.available[doc.task];
      loaded.documents.push_back(std::move(doc));
    }
    loaded.tasks.push_back(std::move(task));
  }
  return loaded;
}

// Checks every --doc-ids entry against what was loaded, so that a typo is an error rather than
// a task silently evaluated in full.
void check_doc_ids(const DocIdSelection& doc_ids, const Loaded& loaded) {
  std::vector<std::string> evaluated;
  for (const TaskSelection& t : loaded.tasks) evaluated.insert(evaluated.end(), t.members.begin(), t.members.end());
  for (const auto& [task, ids] : doc_ids) {
    if (std::find(evaluated.begin(), evaluated.end(), task) == evaluated.end()) {
      const std::string hint = task == "mmlu" ? " (MMLU documents are selected per subject: mmlu_<subject>=ID,...)" : "";
      throw Error("--doc-ids names \"" + task + "\", which is not an evaluated task" + hint);
    }
    std::set<std::int64_t> present;
    for (const Document& doc : loaded.documents)
      if (doc.task == task) present.insert(doc.doc_id);
    for (const std::int64_t id : ids)
      if (present.count(id) == 0)
        throw Error("--doc-ids: " + task + " has no document " + std::to_string(id) + " (it has " +
                    std::to_string(present.size()) + ")");
  }
}

// The documents to score, in loading order: the --doc-ids of a task that has them, else the
// first --limit documents of each lm-eval task (all without a limit).
std::vector<const Document*> select(const Loaded& loaded, const RunOptions& options) {
  std::vector<const Document*> chosen;
  std::map<std::string, std::int64_t> taken;
  for (const Document& doc : loaded.documents) {
    const auto ids = options.doc_ids.find(doc.task);
    if (ids != options.doc_ids.end()) {
      if (std::find(ids->second.begin(), ids->second.end(), doc.doc_id) == ids->second.end()) continue;
    } else if (options.limit && taken[doc.task] >= *options.limit) {
      continue;
    }
    ++taken[doc.task];
    chosen.push_back(&doc);
  }
  return chosen;
}

std::vector<EncodedRequest> encode_document(const Document& doc, const Tokenizer& tokenizer, const Scorer& scorer,
                                            const RunOptions& options) {
  std::vector<EncodedRequest> encoded;
  encoded.reserve(doc.requests.size());
  for (const Request& request : doc.requests) {
    encoded.push_back(encode_pair(tokenizer, request, options.task_options.profile));
    scorer.check(encoded.back());
  }
  return encoded;
}

std::string where(const Document& doc) {
  return doc.task + " document " + std::to_string(doc.doc_id) + " (" + doc.source_file + " row " +
         std::to_string(doc.source_row) + ")";
}

ScoredDocument decided(const Document& doc, std::vector<ChoiceScore> scores, std::vector<EncodedRequest> encoded,
                       const RunOptions& options) {
  ScoredDocument out{doc.task, doc.doc_id, doc.gold, std::move(scores), {}, {}};
  std::vector<double> lls;
  for (const ChoiceScore& s : out.scores) lls.push_back(s.loglikelihood);
  out.decision = decide(lls, doc.choices, doc.gold, doc.reports_acc_norm);
  if (options.keep_token_ids) out.encoded = std::move(encoded);
  return out;
}

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(std::max(0.0, seconds) + 0.5);
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  return text;
}

}  // namespace

void add_doc_ids(DocIdSelection& selection, std::string_view text) {
  const auto bad = [&] {
    return Error("--doc-ids must be TASK=ID,ID,... with non-negative integer ids, got \"" + std::string(text) + "\"");
  };
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0 || equals + 1 == text.size()) throw bad();
  std::vector<std::int64_t>& ids = selection[std::string(text.substr(0, equals))];
  std::string_view rest = text.substr(equals + 1);
  while (true) {
    const std::size_t comma = std::min(rest.find(','), rest.size());
    const std::string_view item = rest.substr(0, comma);
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || id < 0) throw bad();
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    if (comma == rest.size()) break;
    rest = rest.substr(comma + 1);
  }
}

EvalRun run_eval(const Model& model, const Tokenizer& tokenizer, const RunOptions& options,
                 const ProgressFn& progress) {
  if (options.tasks.empty()) throw Error("no task to evaluate (known: " + join(task_names()) + ")");
  if (options.limit && *options.limit < 1)
    throw Error("--limit must be a positive number of documents, got " + std::to_string(*options.limit));
  // lm-eval refuses the combination too: a limit over an explicit list has no clear meaning.
  if (options.limit && !options.doc_ids.empty()) throw Error("--limit and --doc-ids cannot be combined");
  if (options.batch_size < 1)
    throw Error("--batch-size must be a positive number of sequences, got " + std::to_string(options.batch_size));
  const Loaded loaded = load_all(options);
  check_doc_ids(options.doc_ids, loaded);
  const std::vector<const Document*> chosen = select(loaded, options);

  EvalRun run;
  run.tasks = loaded.tasks;
  run.documents.reserve(chosen.size());
  Scorer scorer(model, options.max_length, options.batch_size);
  const auto start = std::chrono::steady_clock::now();
  const auto total = static_cast<std::int64_t>(chosen.size());
  // batch_size documents at a time go to the scorer, which batches their contexts and choices.
  const auto window = static_cast<std::size_t>(options.batch_size);
  std::vector<std::vector<EncodedRequest>> encoded;
  for (std::size_t begin = 0; begin < chosen.size(); begin += window) {
    const std::size_t end = std::min(chosen.size(), begin + window);
    encoded.clear();
    for (std::size_t i = begin; i < end; ++i) {
      try {
        encoded.push_back(encode_document(*chosen[i], tokenizer, scorer, options));
      } catch (const Error& e) {
        throw Error(where(*chosen[i]) + ": " + e.what());
      }
    }
    std::vector<std::vector<ChoiceScore>> scores;
    try {
      scores = scorer.score_documents(encoded);
    } catch (const Error& e) {
      throw Error(where(*chosen[begin]) + (end - begin > 1 ? " and the " + std::to_string(end - begin - 1) + " after it" : "") +
                  ": " + e.what());
    }
    for (std::size_t i = begin; i < end; ++i)
      run.documents.push_back(decided(*chosen[i], std::move(scores[i - begin]), std::move(encoded[i - begin]), options));
    if (progress) progress(static_cast<std::int64_t>(run.documents.size()), total);
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.tokens_processed = scorer.tokens_processed();
  return run;
}

ProgressDisplay::ProgressDisplay(std::FILE* stream, bool is_terminal, int step_percent)
    : stream_(stream), is_terminal_(is_terminal), step_percent_(std::max(1, step_percent)) {}

void ProgressDisplay::update(std::int64_t done, std::int64_t total) {
  if (total <= 0) return;
  const Clock::time_point now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
  const auto percent = static_cast<int>(done * 100 / total);
  const bool finished = done >= total;
  const std::string timing = std::string(finished ? "elapsed " : "ETA ") + clock_text(finished ? elapsed : eta);
  if (is_terminal_) {
    // Redrawing costs a write per call; a few per second is enough for the eye.
    if (!finished && now - last_draw_ < std::chrono::milliseconds(200)) return;
    last_draw_ = now;
    constexpr std::int64_t kWidth = 30;
    const auto filled = static_cast<std::size_t>(done * kWidth / total);
    const std::string bar = std::string(filled, '#') + std::string(static_cast<std::size_t>(kWidth) - filled, ' ');
    std::fprintf(stream_, "\r[%s] %3d%% %lld/%lld  %.2f it/s  %s%s", bar.c_str(), percent,
                 static_cast<long long>(done), static_cast<long long>(total), rate, timing.c_str(),
                 finished ? "\n" : "");
  } else {
    const int step = percent / step_percent_;
    if (step <= last_step_ && !finished) return;
    last_step_ = step;
    std::fprintf(stream_, "eval: %d%% (%lld/%lld documents), %.2f items/s, %s\n", percent,
                 static_cast<long long>(done), static_cast<long long>(total), rate, timing.c_str());
  }
  std::fflush(stream_);
}

}  // namespace supra::eval
