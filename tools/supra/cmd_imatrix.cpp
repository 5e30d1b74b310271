// supra imatrix: the importance matrix of a model on a calibration text (supra/quantize.h),
// for `supra quantize --type q4 --imatrix`. Same flags and file as llama.cpp's llama-imatrix.
#include <algorithm>
#include <cstdio>
#include <memory>

#include "commands.h"
#include "supra/error.h"
#include "supra/perplexity.h"
#include "supra/quantize.h"

namespace supra::cli {
namespace {

struct ImatrixFlags {
  std::string model;
  std::string file;
  std::string out = "imatrix.gguf";
  int context = 512;
  std::int64_t chunks = 0;
  int threads = 0;
};

void run(const ImatrixFlags& f) {
  apply_threads(f.threads);
  if (f.context < 2) throw Error("--ctx must be at least 2 tokens, got " + std::to_string(f.context));
  if (f.chunks < 0) throw Error("--chunks must not be negative");
  const std::string text = read_text_file("-f", f.file);
  const auto folder = model_folder(f.model);
  const Tokenizer tokenizer = Tokenizer::load_folder(folder);
  // Tokenized as `supra perplexity` and llama.cpp do: the whole text once, BOS first.
  const std::vector<TokenId> tokens = eval::perplexity_tokens(tokenizer, text);
  const TokenId bos = tokenizer.add_bos() ? tokenizer.bos_id() : -1;
  ImportanceMatrix imatrix = collect_importance(folder, tokens, f.context, bos, f.chunks,
                                                [](std::int64_t done, std::int64_t total) {
                                                  // About twenty progress lines, whatever the text's length.
                                                  if (done % std::max<std::int64_t>(1, total / 20) != 0 && done != total)
                                                    return;
                                                  std::fprintf(stderr, "imatrix: window %lld of %lld\n",
                                                               static_cast<long long>(done), static_cast<long long>(total));
                                                });
  imatrix.datasets = {f.file};
  write_importance(f.out, imatrix);
  std::printf("wrote %s: %zu matrices, %lld windows of %lld tokens from %s\n", f.out.c_str(), imatrix.entries.size(),
              static_cast<long long>(imatrix.chunks), static_cast<long long>(imatrix.chunk_size), f.file.c_str());
}

}  // namespace

void add_imatrix(CLI::App& app) {
  auto flags = std::make_shared<ImatrixFlags>();
  CLI::App* cmd = app.add_subcommand(
      "imatrix", "importance matrix of a model on a calibration text, for supra quantize --type q4 --imatrix");
  add_model_option(*cmd, flags->model);
  cmd->add_option("-f,--file", flags->file, "calibration text file")->required();
  cmd->add_option("-o,--out", flags->out, "output file (GGUF, written atomically; default imatrix.gguf)");
  cmd->add_option("-c,--ctx,--ctx-size", flags->context, "tokens per window (default 512)");
  cmd->add_option("--chunks", flags->chunks, "read at most this many windows (default: the whole text)");
  add_threads_option(*cmd, flags->threads);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
