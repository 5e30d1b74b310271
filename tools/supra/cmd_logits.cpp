// supra logits: float32 logits [T, V] of a token sequence, written as a NumPy .npy file.
#include <charconv>

#include "commands.h"
#include "io/npy.h"
#include "supra/error.h"
#include "supra/model.h"

namespace supra::cli {
namespace {

struct LogitsFlags {
  std::string model;
  std::string ids;
  std::string mode = "parallel";
  std::string output;
};

std::vector<TokenId> parse_ids(const std::string& text) {
  std::vector<TokenId> ids;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    TokenId id = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size())
      throw Error("--ids must be comma-separated integers, got \"" + item + "\"");
    ids.push_back(id);
    at = comma + 1;
  }
  return ids;
}

void run(const LogitsFlags& f) {
  const auto mode = parse_mode(f.mode);
  if (!mode) throw Error("--mode must be recurrent, parallel or hybrid, got \"" + f.mode + "\"");
  const std::vector<TokenId> ids = parse_ids(f.ids);
  const Model model = Model::load(model_folder(f.model));
  State state = model.new_state();
  const std::vector<float> logits = model.forward(ids, state, *mode, LogitsWanted::All);
  write_npy_f32(f.output, {static_cast<std::int64_t>(ids.size()), model.config().vocab_size}, logits.data());
}

}  // namespace

void add_logits(CLI::App& app) {
  auto flags = std::make_shared<LogitsFlags>();
  CLI::App* cmd = app.add_subcommand("logits", "write the logits of a token sequence as float32 .npy [T, V]");
  add_model_option(*cmd, flags->model);
  cmd->add_option("--ids", flags->ids, "token ids, comma-separated (e.g. 1,5,9)")->required();
  cmd->add_option("--mode", flags->mode, "parallel (default) | recurrent | hybrid");
  cmd->add_option("-o,--output", flags->output, "output .npy file")->required();
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
