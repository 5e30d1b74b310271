// supra tokenize: the ids of a text, as HF's tokenizer(text).input_ids gives them.
#include <cstdio>

#include "commands.h"
#include "supra/tokenizer.h"

namespace supra::cli {
namespace {

struct TokenizeFlags {
  std::string model;
  std::string prompt;
  bool no_bos = false;
};

void run(const TokenizeFlags& f) {
  const Tokenizer tokenizer = Tokenizer::load_folder(model_folder(f.model));
  const std::vector<TokenId> ids = tokenizer.encode(f.prompt, !f.no_bos);
  std::string line;
  for (std::size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::printf("%s\n", line.c_str());
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* cmd = app.add_subcommand("tokenize", "print the token ids of a text, separated by spaces");
  add_model_option(*cmd, flags->model);
  cmd->add_option("-p,--prompt", flags->prompt, "text to tokenize")->required();
  cmd->add_flag("--no-bos", flags->no_bos, "do not prepend BOS");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
