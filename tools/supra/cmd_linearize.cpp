// supra linearize: a softmax teacher folder becomes the initial SUPRA model (spec §8.1).
#include <cstdio>

#include "commands.h"
#include "supra/train.h"

namespace supra::cli {
namespace {

struct LinearizeFlags {
  std::string model;
  std::string out;
  std::uint64_t seed = 0;
  bool from_scratch = false;
};

void run(const LinearizeFlags& f) {
  const std::filesystem::path teacher = model_folder(f.model);
  train::linearize_folder(teacher, f.out, f.seed, f.from_scratch);
  std::printf("wrote %s (SUPRA model %s %s, seed %llu)\n", f.out.c_str(),
              f.from_scratch ? "of the shape of" : "from", teacher.string().c_str(),
              static_cast<unsigned long long>(f.seed));
}

}  // namespace

void add_linearize(CLI::App& app) {
  auto flags = std::make_shared<LinearizeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "linearize", "turn a softmax Llama/Mistral model into an initial SUPRA model (new kernel layers drawn from --seed)");
  add_model_option(*cmd, flags->model);
  cmd->add_option("-o,--out", flags->out, "output folder (must not exist; written atomically)")->required();
  cmd->add_option("--seed", flags->seed, "seed of the new layers' initialisation")->capture_default_str();
  cmd->add_flag("--from-scratch", flags->from_scratch,
                "keep only the teacher's shapes and tokenizer: initialise every weight anew (open_lm's init), for a "
                "from-scratch baseline");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
