// supra generate: stream the prompt and its continuation to stdout.
#include <algorithm>
#include <cstdio>
#include <optional>

#include "commands.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"
#include "serve/state_format.h"
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
  std::string prompt_cache;
};

// --prompt-cache FILE: the state after the previous prompt, in the state export format
// (docs/STATE_FORMAT.md), checked against this model like an HTTP import.
struct PromptCacheFile {
  std::filesystem::path path;
  std::uint64_t fingerprint;
  serve::StateShape shape;
  int vocab_size;

  PromptCache load(const Model& model) const {
    if (!std::filesystem::exists(path)) return PromptCache{model.new_state(), {}};
    const MappedFile file(path);
    const auto bytes = file.bytes();
    try {
      serve::StoredState s = serve::import_state(
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), fingerprint, shape, vocab_size);
      return PromptCache{std::move(s.state), std::move(s.tokens)};
    } catch (const std::exception& e) {
      throw Error("--prompt-cache " + path.string() + ": " + e.what());
    }
  }

  void save(const PromptCache& cache) const {
    const std::string bytes = serve::export_state(serve::StoredState{cache.state, cache.tokens}, fingerprint, shape);
    write_file_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
  }
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
  std::optional<PromptCacheFile> cache_file;
  std::optional<PromptCache> cache;
  if (!f.prompt_cache.empty()) {
    if (*mode == Mode::Parallel) throw Error("--prompt-cache needs --mode recurrent or hybrid");
    cache_file = PromptCacheFile{f.prompt_cache, serve::model_fingerprint(model.config()),
                                 serve::measure_state_shape(model), tokenizer.vocab_size()};
    cache = cache_file->load(model);
  }

  TextStreamer streamer(tokenizer);
  for (TokenId id : prompt) write(streamer.push(id));
  bool saved = false;
  const GenerationResult r = generate(
      model, prompt, options,
      [&](TokenId id) {
        if (cache_file && !saved) {  // the prompt's state, written before decoding goes on
          cache_file->save(*cache);
          saved = true;
        }
        if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) == options.stop_ids.end())
          write(streamer.push(id));
      },
      cache ? &*cache : nullptr);
  if (cache_file && !saved) cache_file->save(*cache);
  write(streamer.flush() + "\n");
  if (cache_file)
    std::fprintf(stderr, "[prompt cache %s: %zu of %zu prompt tokens reused]\n", cache_file->path.c_str(),
                 r.cached_prompt_tokens, prompt.size());

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
  cmd->add_option("--prompt-cache", flags->prompt_cache,
                  "state file: reuse the state of a previous prompt that starts this one, and save this prompt's "
                  "state (created when missing)");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
