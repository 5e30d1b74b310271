// Documents: the requests built from the shared data match the evalref ground truth
// (strings, choices, gold and encode_pair ids) for every reference document of both
// profiles; task options; one supra::Error per kind of malformed file, naming file and
// line; the RFC 4180 CSV reader under MMLU.
#include <bzlib.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "eval/csv.h"
#include "supra/error.h"
#include "supra/eval.h"
#include "json_lines.h"
#include "test_support.h"

namespace supra::test {
namespace {

namespace fs = std::filesystem;
using eval::Document;
using eval::Profile;
using eval::TaskOptions;

// The shared evaluation data, ground truth and tokenizer (CI has them; users may not).
struct Evalref {
  fs::path data_dir;
  fs::path refs;
  fs::path tokenizer_dir;
};

std::optional<Evalref> evalref() {
  auto shared = shared_dir();
  if (!shared) return std::nullopt;
  Evalref e{*shared / "assets" / "eval", *shared / "fixtures" / "evalref" / "public",
            *shared / "fixtures" / "evalref" / "tiny32k"};
  if (!fs::exists(e.data_dir) || !fs::exists(e.refs) || !fs::exists(e.tokenizer_dir)) return std::nullopt;
  return e;
}

// load_documents, cached for the test binary: HellaSwag alone takes a good part of a
// second to decompress. Only MMLU's documents depend on the profile (the description).
const std::vector<Document>& documents(const Evalref& e, const std::string& task, Profile profile) {
  static std::map<std::string, std::vector<Document>> cache;
  std::string key = task.starts_with("mmlu") ? task + std::string(eval::profile_name(profile)) : task;
  auto it = cache.find(key);
  if (it == cache.end())
    it = cache.emplace(key, eval::load_documents(task, e.data_dir, {profile, std::nullopt})).first;
  return it->second;
}

// Runs f, which must throw supra::Error whose message contains every needle.
template <class F>
void expect_error(F f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no supra::Error; expected one mentioning " << needles.front();
  } catch (const Error& e) {
    for (const std::string& needle : needles)
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what() << "\nmissing: " << needle;
  }
}

// ---- ground truth -------------------------------------------------------------------

class DocumentsGroundTruth : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(DocumentsGroundTruth, EveryReferenceDocumentMatches) {
  auto e = evalref();
  if (!e) GTEST_SKIP() << "shared evalref fixtures not present";
  const auto& [profile_text, task] = GetParam();
  const Profile profile = *eval::parse_profile(profile_text);
  static const Tokenizer tokenizer = Tokenizer::load_folder(evalref()->tokenizer_dir);

  std::vector<nlohmann::json> refs = read_json_lines(e->refs / profile_text / (task + ".jsonl"));
  ASSERT_FALSE(refs.empty());
  for (const nlohmann::json& ref : refs) {
    const std::string name = ref["task"];
    const std::vector<Document>& docs = documents(*e, name, profile);
    const std::int64_t doc_id = ref["doc_id"];
    ASSERT_LT(doc_id, static_cast<std::int64_t>(docs.size())) << name;
    const Document& doc = docs[static_cast<std::size_t>(doc_id)];
    SCOPED_TRACE(name + " doc " + std::to_string(doc_id));
    EXPECT_EQ(doc.task, name);
    EXPECT_EQ(doc.doc_id, doc_id);
    EXPECT_EQ(doc.source_row, ref["source"]["row"].get<std::int64_t>());
    const fs::path ref_file = ref["source"]["file"].get<std::string>();
    EXPECT_EQ(fs::path(doc.source_file).filename(), ref_file.filename());
    EXPECT_EQ(doc.choices, ref["choices"].get<std::vector<std::string>>());
    EXPECT_EQ(doc.gold, ref["gold"].get<int>());
    const auto metrics = ref["metrics"].get<std::vector<std::string>>();
    EXPECT_EQ(doc.reports_acc_norm, std::find(metrics.begin(), metrics.end(), "acc_norm") != metrics.end());
    ASSERT_EQ(doc.requests.size(), ref["requests"].size());
    for (std::size_t k = 0; k < doc.requests.size(); ++k) {
      const nlohmann::json& r = ref["requests"][k];
      EXPECT_EQ(doc.requests[k].context, r["context"].get<std::string>()) << "choice " << k;
      EXPECT_EQ(doc.requests[k].continuation, r["continuation"].get<std::string>()) << "choice " << k;
      eval::EncodedRequest ids = eval::encode_pair(tokenizer, doc.requests[k], profile);
      EXPECT_EQ(ids.context, r["context_ids"].get<std::vector<TokenId>>()) << "choice " << k;
      EXPECT_EQ(ids.continuation, r["continuation_ids"].get<std::vector<TokenId>>()) << "choice " << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Documents, DocumentsGroundTruth,
                         testing::Combine(testing::Values("v0.4.2", "v0.4.12"),
                                          testing::Values("hellaswag", "piqa", "winogrande", "arc_easy",
                                                          "arc_challenge", "mmlu")),
                         [](const auto& param_info) {
                           // (no structured binding: its comma would split the macro argument)
                           std::string name = std::get<0>(param_info.param);
                           name += "_" + std::get<1>(param_info.param);
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

TEST(DocumentsFullData, SplitSizesAndMetrics) {
  auto e = evalref();
  if (!e) GTEST_SKIP() << "shared evalref fixtures not present";
  const std::vector<std::pair<std::string, std::size_t>> sizes = {
      {"hellaswag", 10042}, {"piqa", 1838}, {"winogrande", 1267}, {"arc_easy", 2376}, {"arc_challenge", 1172}};
  for (const auto& [task, n] : sizes) {
    const std::vector<Document>& docs = documents(*e, task, Profile::V0_4_2);
    ASSERT_EQ(docs.size(), n) << task;
    EXPECT_EQ(docs.back().doc_id, static_cast<std::int64_t>(n) - 1);
    EXPECT_EQ(docs.front().reports_acc_norm, task != "winogrande") << task;
  }
}

TEST(DocumentsFullData, MmluIsEverySubjectAlphabetically) {
  auto e = evalref();
  if (!e) GTEST_SKIP() << "shared evalref fixtures not present";
  std::vector<Document> docs = eval::load_documents("mmlu", e->data_dir, {});
  EXPECT_EQ(docs.size(), 14042u);
  std::vector<std::string> subjects;
  for (const Document& d : docs) {
    if (subjects.empty() || subjects.back() != d.task) {
      subjects.push_back(d.task);
      EXPECT_EQ(d.doc_id, 0) << d.task;
    }
    EXPECT_FALSE(d.reports_acc_norm);
  }
  EXPECT_EQ(subjects.size(), 57u);
  EXPECT_TRUE(std::is_sorted(subjects.begin(), subjects.end()));
  EXPECT_EQ(subjects.front(), "mmlu_abstract_algebra");
  EXPECT_EQ(subjects.back(), "mmlu_world_religions");
}

// llm-foundry padded 3-choice ARC questions with a repeated wrong choice; lm-eval has 3.
TEST(DocumentsFullData, ArcPaddedQuestionsHaveTheirThreeChoices) {
  auto e = evalref();
  if (!e) GTEST_SKIP() << "shared evalref fixtures not present";
  const std::vector<Document>& easy = documents(*e, "arc_easy", Profile::V0_4_2);
  const Document& d = easy[93];  // stored as decrease, decrease, increase, remain the same; gold 2
  EXPECT_EQ(d.choices, (std::vector<std::string>{"decrease", "increase", "remain the same"}));
  EXPECT_EQ(d.gold, 1);
  EXPECT_EQ(d.requests.size(), 3u);
  std::size_t three = 0;
  for (const Document& doc : easy) three += doc.choices.size() == 3;
  EXPECT_EQ(three, 7u);
}

// ---- small data folders -------------------------------------------------------------

struct DataDir {
  TempDir dir;
  DataDir& file(const std::string& relative, const std::string& bytes) {
    fs::create_directories((dir.path() / relative).parent_path());
    write_file(dir.path() / relative, bytes);
    return *this;
  }
  DataDir& bz2(const std::string& relative, const std::string& text) { return file(relative, compress(text)); }
  std::vector<Document> load(const std::string& task, TaskOptions options = {}) const {
    return eval::load_documents(task, dir.path(), options);
  }
  static std::string compress(const std::string& text) {
    std::string out(text.size() + text.size() / 100 + 600, '\0');
    auto size = static_cast<unsigned>(out.size());
    std::string in = text;
    EXPECT_EQ(BZ2_bzBuffToBuffCompress(out.data(), &size, in.data(), static_cast<unsigned>(in.size()), 9, 0, 0),
              BZ_OK);
    out.resize(size);
    return out;
  }
};

const std::string kMmluHeader = "question,choice0,choice1,choice2,choice3,answer\n";

TEST(DocumentsTasks, ArcDropsRepeatedChoicesAndMovesGold) {
  DataDir d;
  d.file("llm-foundry/arc_easy.jsonl",
         R"({"query": "Question: Q?\n", "choices": ["a", "b", "a", "c"], "gold": 2})"
         "\n");
  std::vector<Document> docs = d.load("arc_easy");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].choices, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(docs[0].gold, 0);  // the first "a"
  EXPECT_EQ(docs[0].requests[2].context, "Question: Q?\nAnswer:");
  EXPECT_EQ(docs[0].requests[2].continuation, " c");
}

TEST(DocumentsTasks, HellaswagAppliesLmEvalCleanUp) {
  DataDir d;
  d.bz2("hellaswag/hellaswag_val_full.txt.bz2",
        "  Baking: Mix [step] the flour [title] Stir   well. [open\n2\n"
        "end one.\n [a]b[c] \n x [title]y\nlast\n");
  std::vector<Document> docs = d.load("hellaswag");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].requests[0].context, "Baking: Mix the flour. Stir  well. [open");
  EXPECT_EQ(docs[0].choices, (std::vector<std::string>{"end one.", "b", "x. y", "last"}));
  EXPECT_EQ(docs[0].requests[2].continuation, " x. y");
  EXPECT_EQ(docs[0].gold, 2);
}

TEST(DocumentsTasks, MmluFewShotDescriptionAndProfiles) {
  DataDir d;
  d.file("mmlu/dev/us_foreign_policy_dev.csv", kMmluHeader + "D1?,a,b,c,d,0\r\n\"D2,\n?\",\" a\",b,c,d,3\r\n");
  d.file("mmlu/test/us_foreign_policy_test.csv", kMmluHeader + "\" T?  \",\"x \",y,\"z\"\"\",w,2\n");
  const std::string text = "T?\nA. x \nB. y\nC. z\"\nD. w\nAnswer:";
  const std::string about =
      "The following are multiple choice questions (with answers) about us foreign policy.";
  const std::string shot1 = "D1?\nA. a\nB. b\nC. c\nD. d\nAnswer: A\n\n";
  const std::string shot2 = "D2,\n?\nA.  a\nB. b\nC. c\nD. d\nAnswer: D\n\n";

  std::vector<Document> docs = d.load("mmlu_us_foreign_policy", {Profile::V0_4_2, 2});
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].requests[0].context, about + "\n" + shot1 + shot2 + text);
  EXPECT_EQ(docs[0].requests[3].continuation, " D");
  EXPECT_EQ(docs[0].choices, (std::vector<std::string>{"A", "B", "C", "D"}));
  EXPECT_EQ(docs[0].gold, 2);
  EXPECT_EQ(d.load("mmlu", {Profile::V0_4_12, 1})[0].requests[1].context, about + "\n\n" + shot1 + text);
  EXPECT_EQ(d.load("mmlu", {Profile::V0_4_12, 0})[0].requests[1].context, about + "\n\n" + text);
  expect_error([&] { d.load("mmlu", {Profile::V0_4_2, 3}); }, {"num-fewshot 3", "us_foreign_policy_dev.csv"});
  expect_error([&] { d.load("mmlu"); }, {"num-fewshot 5", "0..2"});  // the default needs 5 dev rows
  expect_error([&] { d.load("mmlu_astronomy"); }, {"astronomy"});
}

TEST(DocumentsTasks, ZeroShotTasksRejectFewShot) {
  DataDir d;
  d.file("llm-foundry/winogrande.jsonl",
         R"({"context_options": ["A x", "A y"], "continuation": "z.", "gold": 0})"
         "\n");
  EXPECT_EQ(d.load("winogrande", {Profile::V0_4_2, 0}).size(), 1u);
  expect_error([&] { d.load("winogrande", {Profile::V0_4_2, 2}); }, {"winogrande", "num-fewshot 2"});
  expect_error([&] { d.load("lambada"); }, {"unknown task", "lambada"});
}

TEST(DocumentsTasks, ProfileNames) {
  EXPECT_EQ(eval::parse_profile("v0.4.2"), Profile::V0_4_2);
  EXPECT_EQ(eval::parse_profile("v0.4.12"), Profile::V0_4_12);
  EXPECT_EQ(eval::parse_profile("0.4.2"), std::nullopt);
  EXPECT_EQ(eval::profile_name(Profile::V0_4_12), "v0.4.12");
  EXPECT_EQ(eval::task_names(),
            (std::vector<std::string>{"hellaswag", "piqa", "winogrande", "arc_easy", "arc_challenge", "mmlu"}));
}

// ---- malformed files: each error names the file and the line --------------------------

TEST(DocumentsMalformed, MissingFile) {
  DataDir d;
  expect_error([&] { d.load("piqa"); }, {"piqa-original/valid.jsonl", "cannot open"});
  expect_error([&] { d.load("hellaswag"); }, {"hellaswag_val_full.txt.bz2"});
  expect_error([&] { d.load("mmlu"); }, {"mmlu/test"});
}

TEST(DocumentsMalformed, JsonLines) {
  const std::string good = R"({"query": "Question: Q?\n", "choices": ["a", "b"], "gold": 1})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"query": "Question: Q?\n", "choices": ["a", "b"], "gold": 1)", "bad JSON"},
      {R"({"query": "Question: Q?\n", "choices": ["a", "b"], "gold": 1e99999})", "bad JSON"},  // overflow
      {R"({"query": "Question: Q?\n", "gold": 1})", "missing field \"choices\""},
      {R"({"query": "Question: Q?\n", "choices": ["a", 2], "gold": 1})", "not a list of strings"},
      {R"({"query": "Question: Q?\n", "choices": ["a", "b"], "gold": "1"})", "not an integer"},
      {R"({"query": "Question: Q?\n", "choices": ["a", "b"], "gold": 2})", "out of range"},
      {R"({"query": "Question: Q?\n", "choices": ["a"], "gold": 0})", "need at least 2"},
      {R"({"query": "Q?", "choices": ["a", "b"], "gold": 0})", "Question: "},
      {R"([1, 2])", "not a JSON object"},
      {"", "empty line"},
  };
  for (const auto& [line, what] : cases) {
    DataDir d;
    d.file("llm-foundry/arc_challenge.jsonl", good + "\n" + line + "\n" + good + "\n");
    expect_error([&] { d.load("arc_challenge"); }, {"arc_challenge.jsonl:2", what});
  }
}

TEST(DocumentsMalformed, WinograndeChoiceCountAndGold) {
  DataDir d;
  d.file("llm-foundry/winogrande.jsonl",
         R"({"context_options": ["a", "b", "c"], "continuation": "z", "gold": 0})");
  expect_error([&] { d.load("winogrande"); }, {"winogrande.jsonl:1", "3 context options"});
  d.file("llm-foundry/winogrande.jsonl", R"({"context_options": ["a", "b"], "continuation": "z", "gold": 2})");
  expect_error([&] { d.load("winogrande"); }, {"winogrande.jsonl:1", "gold 2"});
}

TEST(DocumentsMalformed, PiqaLabels) {
  const std::string q = R"({"goal": "g", "sol1": "a ", "sol2": "b"})";
  DataDir d;
  d.file("piqa-original/valid.jsonl", q + "\n" + q + "\n").file("piqa-original/valid-labels.lst", "0\n");
  expect_error([&] { d.load("piqa"); }, {"valid-labels.lst", "1 labels for 2 questions"});
  d.file("piqa-original/valid-labels.lst", "0\n2\n");
  expect_error([&] { d.load("piqa"); }, {"valid-labels.lst:2", "\"2\""});
  d.file("piqa-original/valid-labels.lst", "0\n1");
  std::vector<Document> docs = d.load("piqa");
  EXPECT_EQ(docs[1].gold, 1);
  EXPECT_EQ(docs[1].requests[0].context, "Question: g\nAnswer:");
  EXPECT_EQ(docs[1].requests[0].continuation, " a ");  // trailing space kept
}

TEST(DocumentsMalformed, HellaswagText) {
  const std::string item = "L: c\n1\ne0\ne1\ne2\ne3\n";
  DataDir d;
  d.bz2("hellaswag/hellaswag_val_full.txt.bz2", item + "L: c\n1\ne0\ne1\ne2\n");
  expect_error([&] { d.load("hellaswag"); }, {"hellaswag_val_full.txt.bz2:7", "5 of its 6 lines"});
  d.bz2("hellaswag/hellaswag_val_full.txt.bz2", item + "L: c\n4\ne0\ne1\ne2\ne3\n");
  expect_error([&] { d.load("hellaswag"); }, {"hellaswag_val_full.txt.bz2:8", "gold \"4\""});
}

TEST(DocumentsMalformed, HellaswagBz2) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "L: c " + std::to_string(i) + "\n0\na\nb\nc\nd\n";
  std::string compressed = DataDir::compress(text);
  DataDir d;
  d.file("hellaswag/hellaswag_val_full.txt.bz2", compressed.substr(0, compressed.size() / 2));
  expect_error([&] { d.load("hellaswag"); }, {"hellaswag_val_full.txt.bz2", "truncated"});
  d.file("hellaswag/hellaswag_val_full.txt.bz2", "L: c\n0\na\nb\nc\nd\n");
  expect_error([&] { d.load("hellaswag"); }, {"hellaswag_val_full.txt.bz2", "corrupt"});
  // Two concatenated streams (parallel bzip2) read as one file.
  d.file("hellaswag/hellaswag_val_full.txt.bz2", compressed + compressed);
  EXPECT_EQ(d.load("hellaswag").size(), 400u);
}

TEST(DocumentsMalformed, MmluCsv) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Q,a,b,c,d,1\n\"Q\"x,a,b,c,d,1\n", "test.csv:3: bad CSV: text after the closing quote"},
      {"Q,a,b,c,d,1\nQ\",a,b,c,d,1\n", "test.csv:3: bad CSV: quote inside an unquoted field"},
      {"Q,a,b,c,d,1\n\"Q\n,a,b,c,d,1\n", "test.csv:3: bad CSV: quoted field is not closed"},
      {"Q,a,b,c,d,1\nQ,a,b,c,1\n", "test.csv:3: 5 fields"},
      {"Q,a,b,c,d,1\n\"two\nlines\",a,b,c,d,E\n", "test.csv:3: answer \"E\""},
  };
  for (const auto& [rows, what] : cases) {
    DataDir d;
    d.file("mmlu/dev/anatomy_dev.csv", kMmluHeader + "Q,a,b,c,d,1\n");
    d.file("mmlu/test/anatomy_test.csv", kMmluHeader + rows);
    expect_error([&] { d.load("mmlu", {Profile::V0_4_2, 1}); }, {"anatomy_" + what});
  }
  DataDir d;
  d.file("mmlu/dev/anatomy_dev.csv", "question,a,b,c,d,answer\n");
  d.file("mmlu/test/anatomy_test.csv", kMmluHeader);
  expect_error([&] { d.load("mmlu", {Profile::V0_4_2, 1}); }, {"anatomy_dev.csv:1", "header"});
}

// ---- CSV ----------------------------------------------------------------------------

std::vector<std::vector<std::string>> fields(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  for (const eval::CsvRecord& r : eval::parse_csv(text, "t.csv")) out.push_back(r.fields);
  return out;
}
using Rows = std::vector<std::vector<std::string>>;

TEST(Csv, QuotedFieldsKeepCommasLineBreaksAndQuotes) {
  EXPECT_EQ(fields("\"a,b\",\"x\ny\",\"c\r\nd\",\"say \"\"hi\"\"\",\"\"\n"),
            (Rows{{"a,b", "x\ny", "c\r\nd", "say \"hi\"", ""}}));
  EXPECT_EQ(fields("\"lone\rcr\",\" edge \"\n"), (Rows{{"lone\rcr", " edge "}}));
}

TEST(Csv, LineEndings) {
  EXPECT_EQ(fields("a,b\nc,d\n"), (Rows{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(fields("a,b\nc,d"), (Rows{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(fields("a,b\r\nc,\"d\"\r\n"), (Rows{{"a", "b"}, {"c", "d"}}));
  EXPECT_EQ(fields("a,\n,\n"), (Rows{{"a", ""}, {"", ""}}));
  EXPECT_EQ(fields(""), Rows{});
}

TEST(Csv, RecordsKnowTheirFirstLine) {
  std::vector<eval::CsvRecord> records = eval::parse_csv("h\n\"1\n2\n3\"\nx\n", "t.csv");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].line, 2);
  EXPECT_EQ(records[2].line, 5);
}

TEST(Csv, Errors) {
  expect_error([] { eval::parse_csv("a\nb\"c\n", "t.csv"); }, {"t.csv:2", "quote inside"});
  expect_error([] { eval::parse_csv("a\n\"b\"c\n", "t.csv"); }, {"t.csv:2", "after the closing quote"});
  expect_error([] { eval::parse_csv("a\n\"b\n\nc\n", "t.csv"); }, {"t.csv:2", "not closed"});
  expect_error([] { eval::parse_csv("a\rb\n", "t.csv"); }, {"t.csv:1", "carriage return"});
}

}  // namespace
}  // namespace supra::test
