// supra quantize: writes a model folder's weights as GGUF (F32, BF16, Q8_0 or Q4_0) into a new
// folder that `supra generate -m` and llama.cpp both load.
#include <cstdio>
#include <map>
#include <memory>

#include "commands.h"
#include "model/quantize.h"
#include "supra/error.h"

namespace supra::cli {
namespace {

struct QuantizeFlags {
  std::string model;
  std::string out;
  std::string type;
};

void run(const QuantizeFlags& f) {
  static const std::map<std::string, DType> kTypes = {
      {"f32", DType::F32}, {"bf16", DType::BF16}, {"f16", DType::F16}, {"q8", DType::Q8_0}, {"q4", DType::Q4_0}};
  const auto it = kTypes.find(f.type);
  if (it == kTypes.end()) throw Error("--type must be f32, bf16, f16, q8 or q4, got \"" + f.type + "\"");
  const auto folder = model_folder(f.model);
  quantize_model(folder, f.out, it->second);
  std::printf("wrote %s (model.gguf with %s matrices)\n", f.out.c_str(), std::string(dtype_name(it->second)).c_str());
}

}  // namespace

void add_quantize(CLI::App& app) {
  auto flags = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = app.add_subcommand("quantize", "write a model as GGUF with F32, BF16, F16, Q8_0 or Q4_0 matrices");
  add_model_option(*cmd, flags->model);
  cmd->add_option("-o,--out", flags->out, "output folder (must not exist; written atomically)")->required();
  cmd->add_option("--type", flags->type, "f32, bf16, f16, q8 (Q8_0) or q4 (Q4_0)")->required();
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
