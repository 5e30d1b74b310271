// supra generate: stream the prompt and its continuation to stdout.
#include <algorithm>
#include <cstdio>
#include <optional>

#include "commands.h"
#include "sampling_flags.h"
#include "supra/stop_strings.h"
#include "supra/error.h"
#include "supra/generate.h"
#include "supra/model.h"
#include "supra/tokenizer.h"

namespace supra::cli {
namespace {

struct GenerateFlags {
  std::string model;
  PromptFlags prompt;
  SamplingFlags sampling;
  std::string mode = "hybrid";
  std::string prompt_cache;
  int threads = 0;
};

// --prompt-cache FILE: the state after the previous prompt (docs/STATE_FORMAT.md); a missing
// file is an empty cache.
PromptCache load_prompt_cache(const StateCodec& codec, const std::filesystem::path& path, const Model& model) {
  if (!std::filesystem::exists(path)) return PromptCache{model.new_state(), {}};
  SavedState s = load_state_file(codec, path, "--prompt-cache");
  return PromptCache{std::move(s.state), std::move(s.tokens)};
}

void write(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void run(const GenerateFlags& f) {
  apply_threads(f.threads);
  const auto folder = model_folder(f.model);
  const auto mode = parse_mode(f.mode);
  if (!mode) throw Error("--mode must be recurrent, parallel or hybrid, got \"" + f.mode + "\"");
  GenerationOptions options = apply_sampling_flags(f.sampling, load_generation_defaults(folder));
  options.mode = *mode;
  const std::string text = prompt_text(f.prompt);  // read (a file, stdin) before the model loads

  const Tokenizer tokenizer = Tokenizer::load_folder(folder);
  const Model model = Model::load(folder);
  if (options.stop_ids.empty()) options.stop_ids = {tokenizer.eos_id()};

  std::vector<TokenId> prompt = tokenizer.encode(text, true);
  if (prompt.empty()) prompt = {tokenizer.bos_id()};  // a model without add_bos still needs a start
  std::optional<StateCodec> cache_codec;
  std::optional<PromptCache> cache;
  if (!f.prompt_cache.empty()) {
    if (*mode == Mode::Parallel) throw Error("--prompt-cache needs --mode recurrent or hybrid");
    cache_codec.emplace(model, tokenizer.vocab_size());
    cache = load_prompt_cache(*cache_codec, f.prompt_cache, model);
  }
  announce_sampling(f.sampling, options);
  ContextWarning context(model.config());
  context.check(prompt.size());

  TextStreamer streamer(tokenizer);
  StopMatcher stops(f.sampling.stop);  // on the continuation only, as the server does
  for (TokenId id : prompt) write(streamer.push(id));
  bool saved = false;
  std::size_t length = prompt.size();
  const GenerationResult r = generate(
      model, prompt, options,
      [&](TokenId id) {
        if (cache_codec && !saved) {  // the prompt's state, written before decoding goes on
          cache_codec->save(f.prompt_cache, {cache->state, cache->tokens, {}});
          saved = true;
        }
        context.check(++length);
        if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) == options.stop_ids.end())
          write(stops.push(streamer.push(id)));
        return !stops.stopped();
      },
      cache ? &*cache : nullptr);
  if (cache_codec && !saved) cache_codec->save(f.prompt_cache, {cache->state, cache->tokens, {}});
  write(stops.push(streamer.flush()) + stops.finish() + "\n");
  if (cache_codec)
    std::fprintf(stderr, "[prompt cache %s: %zu of %zu prompt tokens reused]\n", f.prompt_cache.c_str(),
                 r.cached_prompt_tokens, prompt.size());

  const std::size_t n = r.tokens.size();
  std::fprintf(stderr, "[%zu prompt tokens in %.3f s, %zu new tokens in %.3f s (%.1f tok/s)%s]\n", prompt.size(),
               r.prefill_seconds, n, r.decode_seconds, r.decode_seconds > 0 ? double(n) / r.decode_seconds : 0.0,
               r.stopped_at_eos ? ", stopped at EOS" : r.stopped_by_caller ? ", stopped at a --stop string" : "");
}

}  // namespace

void add_generate(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "generate text from a prompt (streamed to stdout)");
  add_model_option(*cmd, flags->model);
  add_prompt_options(*cmd, flags->prompt, "prompt text; \"\" or none starts from BOS alone");
  add_sampling_options(*cmd, flags->sampling);
  cmd->add_option("--mode", flags->mode,
                  "recurrent | parallel | hybrid (parallel prefill then recurrent decoding; default)");
  cmd->add_option("--prompt-cache", flags->prompt_cache,
                  "state file: reuse the state of a previous prompt that starts this one, and save this prompt's "
                  "state (created when missing)");
  add_threads_option(*cmd, flags->threads);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
