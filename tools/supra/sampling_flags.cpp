#include "sampling_flags.h"

#include <charconv>
#include <cstdio>
#include <random>

#include "supra/error.h"

namespace supra::cli {
namespace {

bool random_seed(const std::string& text) { return text.empty() || text == "-1"; }

// The seed of a run: the number given, or (unset, -1) a fresh one from the system's entropy.
std::uint64_t parse_seed(const std::string& text) {
  if (random_seed(text)) {
    std::random_device entropy;
    // 53 bits: printable, and exact in any tool that reads numbers as doubles.
    return ((std::uint64_t{entropy()} << 32) | entropy()) & ((std::uint64_t{1} << 53) - 1);
  }
  std::uint64_t seed = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seed);
  if (ec != std::errc() || end != text.data() + text.size())
    throw Error("--seed must be a non-negative integer, or -1 for a random seed, got \"" + text + "\"");
  return seed;
}

}  // namespace

void add_sampling_options(CLI::App& cmd, SamplingFlags& f) {
  cmd.add_option("-n,--max-new-tokens,--n-predict", f.max_new_tokens,
                 "tokens to generate (default: generation_config.json, else 256)");
  cmd.add_option("--temperature,--temp", f.temperature,
                 "sampling temperature; 0 = greedy (default: generation_config.json, greedy unless do_sample)");
  cmd.add_option("--top-k", f.top_k, "keep the k most likely tokens; 0 = off (default 50, as HF)");
  cmd.add_option("--top-p", f.top_p, "nucleus sampling mass in (0, 1]; 1 = off (default 1)");
  cmd.add_option("--min-p", f.min_p,
                 "drop tokens less likely than this times the most likely one, after temperature; 0 = off (default)");
  cmd.add_option("--repetition-penalty", f.repetition_penalty, "HF repetition penalty; 1 = off (default 1)");
  cmd.add_option("-s,--seed", f.seed, "random seed for sampling (default -1: a fresh seed, printed to stderr)")
      ->check([](const std::string& v) {
        const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
        return digits || v == "-1" ? std::string() : std::string("must be a non-negative integer, or -1 for a random seed");
      })
      ->type_name("INT");
  cmd.add_option("--stop", f.stop,
                 "end the output before this text (repeatable; the text itself is not printed)")
      ->allow_extra_args(false)  // one text per --stop: "--stop a b" is not two stops
      ->check([](const std::string& v) { return v.empty() ? std::string("must not be empty") : std::string(); });
}

GenerationOptions apply_sampling_flags(const SamplingFlags& f, GenerationOptions options) {
  if (f.max_new_tokens) options.max_new_tokens = *f.max_new_tokens;
  if (f.temperature) options.sampling.temperature = *f.temperature;
  if (f.top_k) options.sampling.top_k = *f.top_k;
  if (f.top_p) options.sampling.top_p = *f.top_p;
  if (f.min_p) options.sampling.min_p = *f.min_p;
  if (f.repetition_penalty) options.sampling.repetition_penalty = *f.repetition_penalty;
  options.sampling.validate();
  if (options.max_new_tokens < 0) throw Error("--max-new-tokens must not be negative");
  options.sampling.seed = parse_seed(f.seed);
  return options;
}

void announce_sampling(const SamplingFlags& f, const GenerationOptions& options) {
  if (options.sampling.temperature == 0.0f && (f.top_k || f.top_p || f.min_p))
    std::fprintf(stderr, "note: greedy decoding (temperature 0): --top-k/--top-p/--min-p have no effect\n");
  if (random_seed(f.seed) && options.sampling.temperature > 0.0f)
    std::fprintf(stderr, "[seed %llu]\n", static_cast<unsigned long long>(options.sampling.seed));
}

}  // namespace supra::cli
