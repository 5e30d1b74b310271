// supra perplexity: token perplexity of a text file, llama.cpp's windowed way (comparable with
// its numbers) and streamed through one recurrent state (no context limit).
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "eval/perplexity.h"
#include "supra/error.h"

namespace supra::cli {
namespace {

struct PerplexityFlags {
  std::string model;
  std::string file;
  int context = 512;
  int chunk = 512;
  bool json = false;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("-f: cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error("-f: cannot read " + path);
  return text.str();
}

void print_text(const eval::WindowedPerplexity& windowed, const eval::StreamedPerplexity& streamed,
                std::size_t tokens) {
  std::printf("tokens: %zu\n", tokens);
  std::printf("windowed (llama.cpp): %lld windows of %d tokens, second halves scored (%lld tokens)\n",
              static_cast<long long>(windowed.windows), windowed.context,
              static_cast<long long>(windowed.scored_tokens));
  for (std::size_t i = 0; i < windowed.running.size(); ++i) std::printf("[%zu]%.4f,", i + 1, windowed.running[i]);
  std::printf("\nwindowed PPL = %.4f\n", windowed.perplexity);
  std::printf("streamed (one state, chunks of %d, no context limit): %lld tokens scored\n", streamed.chunk,
              static_cast<long long>(streamed.scored_tokens));
  std::printf("streamed PPL = %.4f\n", streamed.perplexity);
}

void print_json(const eval::WindowedPerplexity& windowed, const eval::StreamedPerplexity& streamed,
                std::size_t tokens) {
  const nlohmann::json out = {{"tokens", tokens},
                              {"windowed",
                               {{"context", windowed.context},
                                {"windows", windowed.windows},
                                {"scored_tokens", windowed.scored_tokens},
                                {"perplexity", windowed.perplexity},
                                {"running", windowed.running}}},
                              {"streamed",
                               {{"chunk", streamed.chunk},
                                {"scored_tokens", streamed.scored_tokens},
                                {"perplexity", streamed.perplexity}}}};
  std::printf("%s\n", out.dump(2).c_str());
}

void run(const PerplexityFlags& f) {
  if (f.context < 3) throw Error("--ctx must be at least 3 tokens, got " + std::to_string(f.context));
  if (f.chunk < 1) throw Error("--chunk must be at least 1 token, got " + std::to_string(f.chunk));
  const std::string text = read_text(f.file);
  const auto folder = model_folder(f.model);
  const Model model = Model::load(folder);
  const Tokenizer tokenizer = Tokenizer::load_folder(folder);
  const std::vector<TokenId> tokens = eval::perplexity_tokens(tokenizer, text);
  const TokenId bos = tokenizer.add_bos() ? tokenizer.bos_id() : -1;
  const eval::WindowedPerplexity windowed = eval::windowed_perplexity(model, tokens, f.context, bos);
  const eval::StreamedPerplexity streamed = eval::streamed_perplexity(model, tokens, f.chunk);
  if (f.json)
    print_json(windowed, streamed, tokens.size());
  else
    print_text(windowed, streamed, tokens.size());
}

}  // namespace

void add_perplexity(CLI::App& app) {
  auto flags = std::make_shared<PerplexityFlags>();
  CLI::App* cmd = app.add_subcommand("perplexity", "token perplexity of a text file (windowed and streamed)");
  add_model_option(*cmd, flags->model);
  cmd->add_option("-f,--file", flags->file, "text file")->required();
  cmd->add_option("--ctx", flags->context, "tokens per window of the llama.cpp-style value (default 512)");
  cmd->add_option("--chunk", flags->chunk, "tokens per forward call of the streamed value (default 512)");
  cmd->add_flag("--json", flags->json, "print the results as JSON");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
