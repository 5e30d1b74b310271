// supra logits: float32 logits [T, V] of a token sequence, written as a NumPy .npy file.
#include "commands.h"
#include "supra/error.h"
#include "supra/model.h"
#include "supra/npy.h"

namespace supra::cli {
namespace {

struct LogitsFlags {
  std::string model;
  std::string ids;
  PromptFlags prompt;
  std::string mode = "parallel";
  std::string output;
  int threads = 0;
};

void run(const LogitsFlags& f) {
  apply_threads(f.threads);
  const bool text = f.prompt.text_given || !f.prompt.file.empty();
  if (text == !f.ids.empty()) throw Error("give exactly one of --ids and -p/--prompt (or -f/--file)");
  const auto mode = parse_mode(f.mode);
  if (!mode) throw Error("--mode must be recurrent, parallel or hybrid, got \"" + f.mode + "\"");
  const auto folder = model_folder(f.model);
  std::vector<TokenId> ids;
  if (text) {
    // Tokenized as `supra tokenize` prints it: BOS first when the tokenizer adds one.
    ids = Tokenizer::load_folder(folder).encode(prompt_text(f.prompt), true);
    if (ids.empty()) throw Error("-p/--prompt: the text gives no tokens");
  } else {
    ids = parse_ids("--ids", f.ids);
  }
  const Model model = Model::load(folder);
  State state = model.new_state();
  const std::vector<float> logits = model.forward(ids, state, *mode, LogitsWanted::All);
  write_npy_f32(f.output, {static_cast<std::int64_t>(ids.size()), model.config().vocab_size}, logits.data());
}

}  // namespace

void add_logits(CLI::App& app) {
  auto flags = std::make_shared<LogitsFlags>();
  CLI::App* cmd = app.add_subcommand("logits", "write the logits of a token sequence as float32 .npy [T, V]");
  add_model_option(*cmd, flags->model);
  cmd->add_option("--ids", flags->ids, "token ids, comma-separated (e.g. 1,5,9)");
  add_prompt_options(*cmd, flags->prompt, "text instead of --ids, tokenized as supra tokenize does (BOS first)");
  cmd->add_option("--mode", flags->mode, "parallel (default) | recurrent | hybrid");
  cmd->add_option("-o,--output", flags->output, "output .npy file")->required();
  add_threads_option(*cmd, flags->threads);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
