// supra generate: stream the prompt and its continuation to stdout.
#include <algorithm>
#include <cstdio>
#include <optional>

#include "commands.h"
#include "supra/error.h"
#include "supra/generate.h"
#include "supra/model.h"
#include "supra/tokenizer.h"

namespace supra::cli {
namespace {

struct GenerateFlags {
  std::string model;
  std::string prompt;
  std::optional<int> max_new_tokens;
  std::optional<float> temperature, top_p, repetition_penalty;
  std::optional<int> top_k;
  std::uint64_t seed = 0;
  std::string mode = "hybrid";
};

void write(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void run(const GenerateFlags& f) {
  const auto folder = model_folder(f.model);
  const auto mode = parse_mode(f.mode);
  if (!mode) throw Error("--mode must be recurrent, parallel or hybrid, got \"" + f.mode + "\"");

  GenerationOptions options = load_generation_defaults(folder);
  options.mode = *mode;
  options.sampling.seed = f.seed;
  if (f.max_new_tokens) options.max_new_tokens = *f.max_new_tokens;
  if (f.temperature) options.sampling.temperature = *f.temperature;
  if (f.top_k) options.sampling.top_k = *f.top_k;
  if (f.top_p) options.sampling.top_p = *f.top_p;
  if (f.repetition_penalty) options.sampling.repetition_penalty = *f.repetition_penalty;
  options.sampling.validate();
  if (options.max_new_tokens < 0) throw Error("--max-new-tokens must not be negative");

  const Tokenizer tokenizer = Tokenizer::load_folder(folder);
  const Model model = Model::load(folder);
  if (options.stop_ids.empty()) options.stop_ids = {tokenizer.eos_id()};
  if (options.sampling.temperature == 0.0f && (f.top_k || f.top_p))
    std::fprintf(stderr, "note: greedy decoding (temperature 0): --top-k/--top-p have no effect\n");

  std::vector<TokenId> prompt = tokenizer.encode(f.prompt, true);
  if (prompt.empty()) prompt = {tokenizer.bos_id()};  // a model without add_bos still needs a start
  TextStreamer streamer(tokenizer);
  for (TokenId id : prompt) write(streamer.push(id));
  const GenerationResult r = generate(model, prompt, options, [&](TokenId id) {
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) == options.stop_ids.end())
      write(streamer.push(id));
  });
  write(streamer.flush() + "\n");

  const std::size_t n = r.tokens.size();
  std::fprintf(stderr, "[%zu prompt tokens in %.3f s, %zu new tokens in %.3f s (%.1f tok/s)%s]\n", prompt.size(),
               r.prefill_seconds, n, r.decode_seconds, r.decode_seconds > 0 ? double(n) / r.decode_seconds : 0.0,
               r.stopped_at_eos ? ", stopped at EOS" : "");
}

}  // namespace

void add_generate(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "generate text from a prompt (streamed to stdout)");
  add_model_option(*cmd, flags->model);
  cmd->add_option("-p,--prompt", flags->prompt, "prompt text; \"\" starts from BOS alone");
  cmd->add_option("-n,--max-new-tokens", flags->max_new_tokens,
                  "tokens to generate (default: generation_config.json, else 256)");
  cmd->add_option("--temperature", flags->temperature,
                  "sampling temperature; 0 = greedy (default: generation_config.json, greedy unless do_sample)");
  cmd->add_option("--top-k", flags->top_k, "keep the k most likely tokens; 0 = off (default 50, as HF)");
  cmd->add_option("--top-p", flags->top_p, "nucleus sampling mass in (0, 1]; 1 = off (default 1)");
  cmd->add_option("--repetition-penalty", flags->repetition_penalty, "HF repetition penalty; 1 = off (default 1)");
  cmd->add_option("-s,--seed", flags->seed, "random seed for sampling (default 0)")
      ->check([](const std::string& v) {
        const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
        return digits ? std::string() : std::string("must be a non-negative integer");
      });
  cmd->add_option("--mode", flags->mode,
                  "recurrent | parallel | hybrid (parallel prefill then recurrent decoding; default)");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
