// supra detokenize: the text of token ids, as HF's tokenizer.decode(ids, skip_special_tokens=True).
#include <cstdio>

#include "commands.h"
#include "supra/tokenizer.h"

namespace supra::cli {
namespace {

struct DetokenizeFlags {
  std::string model;
  std::string ids;
};

void run(const DetokenizeFlags& f) {
  const std::vector<TokenId> ids = parse_ids("--ids", f.ids);
  const Tokenizer tokenizer = Tokenizer::load_folder(model_folder(f.model));
  const std::string text = tokenizer.decode(ids);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace

void add_detokenize(CLI::App& app) {
  auto flags = std::make_shared<DetokenizeFlags>();
  CLI::App* cmd = app.add_subcommand("detokenize", "print the text of token ids (special tokens left out)");
  add_model_option(*cmd, flags->model);
  cmd->add_option("--ids", flags->ids, "token ids separated by commas or spaces (e.g. 1,5,9, or supra tokenize's output)")
      ->required();
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
