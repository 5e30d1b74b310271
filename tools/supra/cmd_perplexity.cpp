// supra perplexity: token perplexity of a text file, llama.cpp's windowed way (comparable with
// its numbers) and streamed through one recurrent state (no context limit); or of the packed
// sequences of token shards, exactly as `supra train` computes its validation loss.
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "supra/error.h"
#include "supra/perplexity.h"
#include "supra/train.h"

namespace supra::cli {
namespace {

struct PerplexityFlags {
  std::string model;
  std::string file;
  int context = 512;
  int chunk = 512;
  bool json = false;
  std::vector<std::string> shards;
  std::int64_t seq_len = 2048;
  std::int64_t max_sequences = 0;
  int threads = 0;
};

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

// The trainer's validation loss on token shards (supra/train.h shard_loss).
void run_shards(const PerplexityFlags& f) {
  if (f.max_sequences < 0) throw Error("--max-sequences must not be negative");
  const train::ShardLoss loss = train::shard_loss(model_folder(f.model), {f.shards.begin(), f.shards.end()}, f.seq_len,
                                                  static_cast<std::uint64_t>(f.max_sequences));
  const double ce = loss.cross_entropy;
  if (f.json) {
    const nlohmann::json out = {{"sequences", loss.sequences}, {"seq_len", loss.seq_len},
                                {"scored_tokens", loss.scored_tokens}, {"cross_entropy", ce}, {"perplexity", std::exp(ce)}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%llu sequences of %lld tokens: cross-entropy %.6f, PPL = %.4f\n",
                static_cast<unsigned long long>(loss.sequences), static_cast<long long>(loss.seq_len), ce, std::exp(ce));
  }
}

void run(const PerplexityFlags& f) {
  apply_threads(f.threads);
  if (f.file.empty() == f.shards.empty()) throw Error("give either -f/--file or --shard");
  if (!f.shards.empty()) return run_shards(f);
  if (f.context < 3) throw Error("--ctx must be at least 3 tokens, got " + std::to_string(f.context));
  if (f.chunk < 1) throw Error("--chunk must be at least 1 token, got " + std::to_string(f.chunk));
  const std::string text = read_text_file("-f", f.file);
  const auto folder = model_folder(f.model);
  const Model model = Model::load(folder);
  const Tokenizer tokenizer = Tokenizer::load_folder(folder);
  const std::vector<TokenId> tokens = eval::perplexity_tokens(tokenizer, text);
  // llama.cpp's rule (and message): its windowed value needs two windows of text at least.
  const std::size_t needed = 2 * static_cast<std::size_t>(f.context);
  if (tokens.size() < needed)
    throw Error("-f " + f.file + ": " + std::to_string(tokens.size()) + " tokens; you need at least " +
                std::to_string(needed) + " tokens to evaluate perplexity with a context of " +
                std::to_string(f.context) + " (give a longer text or a smaller -c/--ctx)");
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
  cmd->add_option("-f,--file", flags->file, "text file");
  cmd->add_option("-c,--ctx,--ctx-size", flags->context, "tokens per window of the llama.cpp-style value (default 512)");
  cmd->add_option("--chunk", flags->chunk, "tokens per forward call of the streamed value (default 512)");
  cmd->add_option("--shard", flags->shards,
                  "token shards (supra tokenize-data) instead of -f: mean cross-entropy of their packed sequences, "
                  "as supra train's validation loss")
      ->take_all();
  cmd->add_option("--seq-len", flags->seq_len, "with --shard: tokens per sequence (default 2048)");
  cmd->add_option("--max-sequences", flags->max_sequences, "with --shard: score the first N sequences (default all)");
  cmd->add_flag("--json", flags->json, "print the results as JSON");
  add_threads_option(*cmd, flags->threads);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
