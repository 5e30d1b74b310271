// supra tokenize: the ids of a text, as HF's tokenizer(text).input_ids gives them.
#include <cstdio>

#include "commands.h"
#include "supra/error.h"
#include "supra/tokenizer.h"

namespace supra::cli {
namespace {

struct TokenizeFlags {
  std::string model;
  PromptFlags prompt;
  bool no_bos = false;
  bool pieces = false;
};

void run(const TokenizeFlags& f) {
  if (!f.prompt.text_given && f.prompt.file.empty()) throw Error("give the text with -p/--prompt or -f/--file");
  const Tokenizer tokenizer = Tokenizer::load_folder(model_folder(f.model));
  const std::vector<TokenId> ids = tokenizer.encode(prompt_text(f.prompt), !f.no_bos);
  if (f.pieces) {  // llama.cpp's llama-tokenize layout: one "id -> 'piece'" per line
    for (TokenId id : ids) std::printf("%6d -> '%s'\n", id, tokenizer.piece(id).c_str());
    return;
  }
  std::string line;
  for (std::size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::printf("%s\n", line.c_str());
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* cmd = app.add_subcommand("tokenize", "print the token ids of a text, separated by spaces");
  add_model_option(*cmd, flags->model);
  add_prompt_options(*cmd, flags->prompt, "text to tokenize");
  cmd->add_flag("--no-bos", flags->no_bos, "do not prepend BOS");
  cmd->add_flag("--pieces", flags->pieces, "print one token per line with its SentencePiece piece");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
