// The generation loop and generation_config.json defaults.
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "supra/error.h"
#include "supra/generate.h"

namespace supra {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

GenerationOptions load_generation_defaults(const std::filesystem::path& folder) {
  GenerationOptions o;
  o.sampling.temperature = 0.0f;  // HF: do_sample defaults to false
  const auto path = folder / "generation_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return o;
  const nlohmann::json j = read_json_file(path);  // errors name the path
  try {
    if (!j.is_object()) throw Error("expected a JSON object");
    if (j.value("do_sample", false)) {
      o.sampling.temperature = j.value("temperature", 1.0f);
      o.sampling.top_k = j.value("top_k", 50);
      o.sampling.top_p = j.value("top_p", 1.0f);
    }
    o.sampling.repetition_penalty = j.value("repetition_penalty", 1.0f);
    if (j.contains("max_new_tokens") && !j["max_new_tokens"].is_null()) o.max_new_tokens = j["max_new_tokens"].get<int>();
    if (j.contains("eos_token_id")) {
      const auto& eos = j["eos_token_id"];
      if (eos.is_array())
        o.stop_ids = eos.get<std::vector<TokenId>>();
      else if (!eos.is_null())
        o.stop_ids = {eos.get<TokenId>()};
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": " + e.what());
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  return o;
}

GenerationResult generate(const Model& model, const std::vector<TokenId>& prompt, const GenerationOptions& options,
                          const std::function<bool(TokenId)>& on_token, PromptCache* cache) {
  if (prompt.empty()) throw Error("generate: the prompt must hold at least one token (BOS)");
  if (options.max_new_tokens < 0) throw Error("--max-new-tokens must not be negative");
  options.sampling.validate();
  Sampler sampler(options.sampling);
  GenerationResult result;
  std::vector<TokenId> sequence = prompt;

  auto start = Clock::now();
  const bool use_cache = cache != nullptr && options.mode != Mode::Parallel;
  const bool hit = use_cache && cache->tokens.size() < prompt.size() &&
                   std::equal(cache->tokens.begin(), cache->tokens.end(), prompt.begin());
  State state = hit ? cache->state : model.new_state();
  result.cached_prompt_tokens = hit ? cache->tokens.size() : 0;
  const Mode prefill = options.mode == Mode::Hybrid ? Mode::Parallel : options.mode;
  const std::span<const TokenId> rest = std::span(prompt).subspan(result.cached_prompt_tokens);
  if (use_cache) {
    // The cache keeps the state before the prompt's last token, so that the same prompt
    // again has one token to read and logits to start from.
    const std::size_t body = rest.size() - 1;
    if (body > 0) model.forward(rest.first(body), state, prefill, LogitsWanted::None);
    *cache = PromptCache{state, std::vector<TokenId>(prompt.begin(), prompt.end() - 1)};
  }
  std::vector<float> logits = model.forward(use_cache ? rest.last(1) : rest, state, prefill);
  result.prefill_seconds = seconds_since(start);

  start = Clock::now();
  Batch step;  // the recurrent decode's working memory, reused by every token
  for (int i = 0; i < options.max_new_tokens; ++i) {
    const TokenId next = sampler.sample(logits, sequence);
    sequence.push_back(next);
    result.tokens.push_back(next);
    if (on_token && !on_token(next)) {
      result.stopped_by_caller = true;
      break;
    }
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end()) {
      result.stopped_at_eos = true;
      break;
    }
    if (i + 1 == options.max_new_tokens) break;
    if (options.mode == Mode::Parallel) {
      state = model.new_state();
      logits = model.forward(sequence, state, Mode::Parallel);
    } else {
      step.clear();
      step.add(std::span(&next, 1), state);
      model.forward(step);
      const std::span<const float> row = step.logits(0);
      logits.assign(row.begin(), row.end());  // into the same memory: the sampler edits it
    }
  }
  result.decode_seconds = seconds_since(start);
  return result;
}

}  // namespace supra
