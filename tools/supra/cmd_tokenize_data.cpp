// supra tokenize-data: text files → one token shard for `supra train` (docs/TRAINING.md).
#include <cstdio>

#include "commands.h"
#include "supra/error.h"
#include "supra/tokenizer.h"
#include "supra/train.h"

namespace supra::cli {
namespace {

struct TokenizeDataFlags {
  std::string model;
  std::string out;
  std::vector<std::string> texts;
  std::string split = "file";
  bool no_eos = false;
};

void run(const TokenizeDataFlags& f) {
  const auto split = train::parse_document_split(f.split);
  if (!split) throw Error("--split must be file, lines or paragraphs, got \"" + f.split + "\"");
  const Tokenizer tokenizer = Tokenizer::load_folder(model_folder(f.model));
  std::vector<std::filesystem::path> texts(f.texts.begin(), f.texts.end());
  const train::CorpusStats s = train::tokenize_corpus(tokenizer, texts, f.out, {*split, !f.no_eos});
  std::printf("wrote %s: %llu tokens, %llu documents from %llu files (%llu bytes of text)\n", f.out.c_str(),
              static_cast<unsigned long long>(s.tokens), static_cast<unsigned long long>(s.documents),
              static_cast<unsigned long long>(s.files), static_cast<unsigned long long>(s.bytes));
}

}  // namespace

void add_tokenize_data(CLI::App& app) {
  auto flags = std::make_shared<TokenizeDataFlags>();
  CLI::App* cmd = app.add_subcommand("tokenize-data", "tokenize text files into a token shard for training");
  add_model_option(*cmd, flags->model);
  cmd->add_option("--out", flags->out, "shard file to write (atomically)")->required();
  cmd->add_option("texts", flags->texts, "text files (UTF-8)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--split", flags->split, "documents: file (one per file), lines, or paragraphs (blank-line separated)")
      ->capture_default_str();
  cmd->add_flag("--no-eos", flags->no_eos, "do not end documents with EOS");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
