// supra quantize: writes a model folder's weights as GGUF (F32, BF16, F16, Q8_0 or Q4_0) into a
// new folder that `supra generate -m` and llama.cpp both load; with --synthetic, a model of a
// known shape with random weights (for benchmarks against llama.cpp on the same file).
#include <cstdio>
#include <memory>

#include "commands.h"
#include "supra/error.h"
#include "supra/quantize.h"

namespace supra::cli {
namespace {

struct QuantizeFlags {
  std::string model;
  std::string synthetic;
  std::string out;
  std::string type;
  std::string imatrix;
  int threads = 0;
};

void run(const QuantizeFlags& f) {
  apply_threads(f.threads);
  if (!f.model.empty() && !f.synthetic.empty()) throw Error("give -m/--model or --synthetic, not both");
  const DType type = weight_type("--type", f.type);
  if (!f.imatrix.empty() && !f.synthetic.empty()) throw Error("--imatrix applies to -m/--model, not --synthetic");
  if (!f.imatrix.empty() && type != DType::Q4_0)
    throw Error("--imatrix is used by --type q4 only (Q8_0 and the float types do not fit scales)");
  if (f.synthetic.empty())
    quantize_model(model_folder(f.model), f.out, type, f.imatrix);
  else
    write_synthetic_model(f.synthetic, f.out, type);
  std::printf("wrote %s (model.gguf with %s matrices)\n", f.out.c_str(), std::string(dtype_name(type)).c_str());
}

}  // namespace

void add_quantize(CLI::App& app) {
  auto flags = std::make_shared<QuantizeFlags>();
  CLI::App* cmd = app.add_subcommand("quantize", "write a model as GGUF with F32, BF16, F16, Q8_0 or Q4_0 matrices");
  add_model_option(*cmd, flags->model);
  std::string shapes;
  for (const std::string& name : synthetic_names()) shapes += (shapes.empty() ? "" : ", ") + name;
  cmd->add_option("--synthetic", flags->synthetic,
                  "instead of -m: a model of this shape with random weights and a synthetic vocabulary (" + shapes + ")");
  cmd->add_option("-o,--out", flags->out, "output folder (must not exist; written atomically)")->required();
  cmd->add_option("--type", flags->type, "f32, bf16, f16, q8 (Q8_0) or q4 (Q4_0; the output projection stays Q8_0)")
      ->required();
  cmd->add_option("--imatrix", flags->imatrix,
                  "importance matrix (GGUF, from supra imatrix or llama-imatrix): with --type q4, fit each Q4_0 block's "
                  "scale weighted by how large its input columns run");
  add_threads_option(*cmd, flags->threads);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
