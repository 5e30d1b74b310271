#include "supra/eval_report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"

namespace supra::eval {
namespace {

using nlohmann::json;
constexpr std::string_view kMmluPrefix = "mmlu_";

int default_fewshot(const std::string& task) { return task.starts_with("mmlu") ? 5 : 0; }

TaskReport task_report(const std::string& name, const EvalRun& run, std::int64_t available,
                       const TaskOptions& options) {
  std::vector<double> acc, acc_norm;
  for (const ScoredDocument& doc : run.documents) {
    if (doc.task != name) continue;
    acc.push_back(doc.decision.acc ? 1.0 : 0.0);
    if (doc.decision.acc_norm) acc_norm.push_back(*doc.decision.acc_norm ? 1.0 : 0.0);
  }
  TaskReport r;
  r.name = name;
  r.available = available;
  r.num_fewshot = options.num_fewshot.value_or(default_fewshot(name));
  r.acc = mean_estimate(acc);
  // A task reports acc_norm for all its documents or for none.
  if (!acc_norm.empty()) r.acc_norm = mean_estimate(acc_norm);
  return r;
}

// The version lm-eval records for a task (the table's Version column): the task configs'
// metadata versions of each profile's harness. The group had none in v0.4.2.
std::string version_of(const TaskReport& report, Profile profile) {
  const bool old = profile == Profile::V0_4_2;
  if (report.is_group) return old ? "N/A" : "2";
  if (report.name.starts_with(kMmluPrefix)) return old ? "0" : "1";
  return "1";
}

// lm-eval's alias: subjects of the MMLU group are listed as " - <subject>".
std::string alias_of(const TaskReport& report, bool in_group) {
  if (!in_group) return report.name;
  const std::string_view name = report.name;
  return " - " + std::string(name.starts_with(kMmluPrefix) ? name.substr(kMmluPrefix.size()) : name);
}

std::string fixed4(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", value);
  return text;
}

json stderr_json(const Estimate& e) { return e.std_error ? json(*e.std_error) : json("N/A"); }

json metrics_json(const TaskReport& report, bool in_group) {
  json out = {{"alias", alias_of(report, in_group)},
              {"acc,none", report.acc.value},
              {"acc_stderr,none", stderr_json(report.acc)}};
  if (report.acc_norm) {
    out["acc_norm,none"] = report.acc_norm->value;
    out["acc_norm_stderr,none"] = stderr_json(*report.acc_norm);
  }
  return out;
}

// A markdown table laid out as lm-eval prints it: columns padded to their widest cell
// (counted in code points: the table holds "↑" and "±"), header names centred.
class Table {
 public:
  explicit Table(std::vector<std::pair<std::string, bool>> header) : header_(std::move(header)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string render() const {
    std::vector<std::size_t> width(header_.size(), 3);
    for (std::size_t c = 0; c < header_.size(); ++c) {
      width[c] = std::max(width[c], code_points(header_[c].first));
      for (const auto& row : rows_) width[c] = std::max(width[c], code_points(row[c]));
    }
    std::string out = "|";
    for (std::size_t c = 0; c < header_.size(); ++c) out += centre(header_[c].first, width[c]) + "|";
    out += "\n|";
    for (std::size_t c = 0; c < header_.size(); ++c)
      out += std::string(width[c] - (header_[c].second ? 1 : 0), '-') + (header_[c].second ? ":" : "") + "|";
    out += "\n";
    for (const auto& row : rows_) {
      out += "|";
      for (std::size_t c = 0; c < header_.size(); ++c) out += pad(row[c], width[c], header_[c].second) + "|";
      out += "\n";
    }
    return out;
  }

 private:
  static std::string centre(const std::string& cell, std::size_t width) {
    const std::size_t room = width - code_points(cell);
    return std::string(room / 2, ' ') + cell + std::string(room - room / 2, ' ');
  }
  static std::string pad(const std::string& cell, std::size_t width, bool right) {
    const std::string fill(width - code_points(cell), ' ');
    return right ? fill + cell : cell + fill;
  }
  std::vector<std::pair<std::string, bool>> header_;  // name, right-aligned
  std::vector<std::vector<std::string>> rows_;
};

void add_rows(Table& table, const TaskReport& report, bool in_group, Profile profile) {
  const std::string shots = report.num_fewshot ? std::to_string(*report.num_fewshot) : "";
  const auto row = [&](const std::string& metric, const Estimate& e, bool first) {
    table.add({first ? alias_of(report, in_group) : "", first ? version_of(report, profile) : "", "none", shots,
               metric, "↑", fixed4(e.value), "±", e.std_error ? fixed4(*e.std_error) : "N/A"});
  };
  row("acc", report.acc, true);
  if (report.acc_norm) row("acc_norm", *report.acc_norm, false);
  for (const TaskReport& member : report.members) add_rows(table, member, true, profile);
}

}  // namespace

std::vector<TaskReport> summarize(const EvalRun& run, const TaskOptions& options) {
  std::vector<TaskReport> reports;
  for (const TaskSelection& task : run.tasks) {
    if (task.members.size() == 1 && task.members[0] == task.name) {
      reports.push_back(task_report(task.name, run, task.available.at(task.name), options));
      continue;
    }
    TaskReport group;
    group.name = task.name;
    group.is_group = true;
    std::vector<Estimate> accs;
    for (const std::string& member : task.members) {
      group.available += task.available.at(member);
      TaskReport r = task_report(member, run, task.available.at(member), options);
      if (r.acc.n == 0) continue;  // an empty member would count in the pooled error's k
      accs.push_back(r.acc);
      group.members.push_back(std::move(r));
    }
    group.acc = pooled_estimate(accs);
    reports.push_back(std::move(group));
  }
  return reports;
}

std::string results_table(const std::vector<TaskReport>& reports, const RunDescription& description) {
  const RunOptions& o = description.options;
  std::string title = "supra (model=" + description.model + ", profile=" +
                      std::string(profile_name(o.task_options.profile)) +
                      ", max_length=" + std::to_string(o.max_length) + "), limit: " +
                      (o.limit ? std::to_string(*o.limit) : "None") + ", num_fewshot: " +
                      (o.task_options.num_fewshot ? std::to_string(*o.task_options.num_fewshot) : "None") + "\n";
  Table table({{"Tasks", false}, {"Version", true}, {"Filter", false}, {"n-shot", true}, {"Metric", false},
               {"", false}, {"Value", true}, {"", false}, {"Stderr", true}});
  for (const TaskReport& report : reports) add_rows(table, report, false, o.task_options.profile);
  return title + table.render();
}

void write_results_json(const std::filesystem::path& path, const std::vector<TaskReport>& reports,
                        const RunDescription& description) {
  const RunOptions& o = description.options;
  const EvalRun& run = description.run;
  json results = json::object(), groups = json::object(), subtasks = json::object(), versions = json::object(),
       shots = json::object(), samples = json::object();
  const auto record = [&](const TaskReport& r, bool in_group) {
    results[r.name] = metrics_json(r, in_group);
    versions[r.name] = version_of(r, o.task_options.profile);
    if (r.num_fewshot) shots[r.name] = *r.num_fewshot;
    if (!r.is_group) samples[r.name] = {{"original", r.available}, {"effective", r.acc.n}};
  };
  for (const TaskReport& r : reports) {
    record(r, false);
    json members = json::array();
    for (const TaskReport& m : r.members) {
      record(m, true);
      members.push_back(m.name);
    }
    subtasks[r.name] = members;
    if (r.is_group) groups[r.name] = metrics_json(r, false);
  }
  json doc_ids = json::object();
  for (const auto& [task, ids] : o.doc_ids) doc_ids[task] = ids;
  const double rate = run.seconds > 0 ? static_cast<double>(run.documents.size()) / run.seconds : 0;
  const json out = {
      {"results", results},
      {"groups", groups},
      {"group_subtasks", subtasks},
      {"versions", versions},
      {"n-shot", shots},
      {"n-samples", samples},
      {"config",
       {{"model", description.model},
        {"profile", profile_name(o.task_options.profile)},
        {"add_bos", o.task_options.profile == Profile::V0_4_12},
        {"max_length", o.max_length},
        {"batch_size", o.batch_size},
        {"num_fewshot", o.task_options.num_fewshot ? json(*o.task_options.num_fewshot) : json(nullptr)},
        {"limit", o.limit ? json(*o.limit) : json(nullptr)},
        {"doc_ids", doc_ids},
        {"data_dir", o.data_dir.string()}}},
      {"supra",
       {{"documents", run.documents.size()},
        {"seconds", run.seconds},
        {"items_per_second", rate},
        {"tokens_processed", run.tokens_processed}}}};
  write_file_atomically(path, [&](std::ostream& stream) { stream << out.dump(2) << "\n"; });
}

void write_log_samples(const std::filesystem::path& path, const EvalRun& run) {
  write_file_atomically(path, [&](std::ostream& stream) {
    for (const ScoredDocument& doc : run.documents) {
      json lls = json::array(), greedy = json::array(), input_len = json::array(), truncated = json::array();
      for (const ChoiceScore& s : doc.scores) {
        lls.push_back(s.loglikelihood);
        greedy.push_back(s.is_greedy);
        input_len.push_back(s.input_len);
        truncated.push_back(s.truncated);
      }
      json line = {{"task", doc.task},         {"doc_id", doc.doc_id},     {"gold", doc.gold},
                   {"loglikelihoods", lls},    {"is_greedy", greedy},      {"input_len", input_len},
                   {"truncated", truncated},   {"acc", doc.decision.acc ? 1.0 : 0.0}};
      if (doc.decision.acc_norm) line["acc_norm"] = *doc.decision.acc_norm ? 1.0 : 0.0;
      if (!doc.encoded.empty()) {
        json context = json::array(), continuation = json::array();
        for (const EncodedRequest& e : doc.encoded) {
          context.push_back(e.context);
          continuation.push_back(e.continuation);
        }
        line["context_ids"] = context;
        line["continuation_ids"] = continuation;
      }
      stream << line.dump() << "\n";
    }
  });
}

}  // namespace supra::eval
