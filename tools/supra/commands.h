// The subcommands of the `supra` command line. Each adds itself to the app; main() runs the
// chosen one and turns errors into one line on stderr and a non-zero exit.
#pragma once
#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "supra/config.h"
#include "supra/state_file.h"
#include "supra/tensor.h"
#include "supra/tokenizer.h"

namespace supra::cli {

void add_generate(CLI::App& app);
void add_logits(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_info(CLI::App& app);
void add_serve(CLI::App& app);
void add_eval(CLI::App& app);
void add_perplexity(CLI::App& app);
void add_quantize(CLI::App& app);
void add_imatrix(CLI::App& app);
void add_linearize(CLI::App& app);
void add_tokenize_data(CLI::App& app);
void add_train(CLI::App& app);
void add_bench(CLI::App& app);
void add_detokenize(CLI::App& app);
void add_chat(CLI::App& app);

// The model folder to use: -m when given, else the model shipped with supra.
std::filesystem::path model_folder(const std::string& flag_value);

// The weight type named by a --type/--dtype value: f32, bf16, f16, q8 (Q8_0) or q4 (Q4_0).
DType weight_type(const std::string& flag, const std::string& value);

// The whole of a text file named by `flag` ("-" = standard input); throws supra::Error naming
// the flag when unreadable.
std::string read_text_file(const std::string& flag, const std::string& path);

// Adds the -m/--model option to a subcommand. A folder given there that does not exist is an
// error naming it (checked by model_folder()).
void add_model_option(CLI::App& cmd, std::string& target);

// -t/--threads (llama.cpp's name) for a compute subcommand: 0 or unset = OpenMP's default (the
// cores), negative = a flag error. apply_threads() sets the count before any model work.
void add_threads_option(CLI::App& cmd, int& target);
void apply_threads(int threads);

// The text of a prompt given as -p TEXT or -f FILE ("-" = standard input), at most one of
// them; "" when neither was given.
struct PromptFlags {
  std::string text;
  std::string file;
  bool text_given = false;
};
void add_prompt_options(CLI::App& cmd, PromptFlags& target, const std::string& what);
std::string prompt_text(const PromptFlags& flags);

// A state file (docs/STATE_FORMAT.md) read for `what` (a flag or a chat command): errors are
// StateCodec::load's, after `what` ("--prompt-cache cannot open <path>: ...").
SavedState load_state_file(const StateCodec& codec, const std::filesystem::path& path, const std::string& what);

// Token ids separated by commas and/or spaces ("1,5,9" or the output of `supra tokenize`);
// throws supra::Error naming `flag` otherwise.
std::vector<TokenId> parse_ids(const std::string& flag, const std::string& text);

// A softmax model reads positions past max_position_embeddings badly (its rotary angles and
// attention were never trained there): one warning on stderr the first time a sequence gets
// longer. SUPRA models have no such limit and never warn.
class ContextWarning {
 public:
  explicit ContextWarning(const ModelConfig& config);
  void check(std::size_t sequence_length);

 private:
  std::size_t limit_;  // 0 = none
  bool warned_ = false;
};

}  // namespace supra::cli
