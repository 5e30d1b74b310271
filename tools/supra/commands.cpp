// Flag helpers shared by the subcommands: threads, prompts from -p or -f, token id lists.
#include <omp.h>

#include <charconv>
#include <cstdio>

#include "commands.h"
#include "supra/error.h"

namespace supra::cli {

void add_threads_option(CLI::App& cmd, int& target) {
  cmd.add_option("-t,--threads", target, "threads for the computation (default 0: OpenMP's, i.e. the cores)")
      ->check([](const std::string& value) {
        // CLI11 converts after checks; a non-number is reported by that conversion.
        return !value.empty() && value[0] == '-' ? std::string("must not be negative") : std::string();
      });
}

void apply_threads(int threads) {
  if (threads < 0) throw Error("--threads must not be negative, got " + std::to_string(threads));
  if (threads > 0) omp_set_num_threads(threads);
}

void add_prompt_options(CLI::App& cmd, PromptFlags& target, const std::string& what) {
  CLI::Option* text = cmd.add_option("-p,--prompt", target.text, what);
  CLI::Option* file = cmd.add_option("-f,--file", target.file, "read the prompt from this file (- = standard input)");
  text->each([&target](const std::string&) { target.text_given = true; });
  text->excludes(file);
}

std::string prompt_text(const PromptFlags& flags) {
  return flags.file.empty() ? flags.text : read_text_file("-f", flags.file);
}

SavedState load_state_file(const StateCodec& codec, const std::filesystem::path& path, const std::string& what) {
  try {
    return codec.load(path);
  } catch (const Error& e) {
    throw Error(what + " " + e.what());
  }
}

std::vector<TokenId> parse_ids(const std::string& flag, const std::string& text) {
  std::vector<TokenId> ids;
  std::size_t at = 0;
  bool expect_id = true;  // after a comma (or at the start) an id must follow
  while (true) {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n' || text[at] == '\t')) ++at;
    if (at == text.size()) break;
    if (text[at] == ',') {
      if (expect_id) throw Error(flag + " must be integers separated by commas or spaces, got \"" + text + "\"");
      expect_id = true;
      ++at;
      continue;
    }
    TokenId id = 0;
    const auto [end, ec] = std::from_chars(text.data() + at, text.data() + text.size(), id);
    const std::size_t stop = static_cast<std::size_t>(end - text.data());
    const bool separated = stop == text.size() || text[stop] == ',' || text[stop] == ' ' || text[stop] == '\n' ||
                           text[stop] == '\t';
    if (ec != std::errc() || !separated)
      throw Error(flag + " must be integers separated by commas or spaces, got \"" + text + "\"");
    ids.push_back(id);
    expect_id = false;
    at = stop;
  }
  if (ids.empty() || expect_id)
    throw Error(flag + " must be integers separated by commas or spaces, got \"" + text + "\"");
  return ids;
}

ContextWarning::ContextWarning(const ModelConfig& config)
    : limit_(config.attention == AttentionKind::Softmax ? static_cast<std::size_t>(config.seq_len) : 0) {}

void ContextWarning::check(std::size_t sequence_length) {
  if (limit_ == 0 || warned_ || sequence_length <= limit_) return;
  warned_ = true;
  std::fprintf(stderr,
               "warning: the sequence is now longer than this softmax model's max_position_embeddings (%zu tokens); "
               "what follows may be poor\n",
               limit_);
}

}  // namespace supra::cli
