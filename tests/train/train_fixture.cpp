#include "train_fixture.h"

#include <fstream>

#include "supra/checkpoint.h"

namespace supra::test {

TrainGolden load_train_golden(const std::filesystem::path& shared, const std::string& name) {
  const std::filesystem::path dir = shared / "fixtures" / "golden" / "train" / name;
  TrainGolden g;
  g.model_dir = shared / "fixtures" / "golden" / name;
  const Checkpoint batch = Checkpoint::open_file(dir / "batch.safetensors");
  const TensorView& tokens = batch.get("tokens");
  g.B = tokens.shape.at(0);
  g.T = tokens.shape.at(1) - 1;
  for (std::int64_t id : to_i64(tokens)) g.tokens.push_back(static_cast<TokenId>(id));
  g.logits = to_f32(batch.get("logits"));
  g.grads = train::load_parameters(Checkpoint::open_file(dir / "grads.safetensors"));
  g.params_step1 = train::load_parameters(Checkpoint::open_file(dir / "params_step1.safetensors"));
  g.params_step2 = train::load_parameters(Checkpoint::open_file(dir / "params_step2.safetensors"));
  std::ifstream in(dir / "train.json");
  g.info = nlohmann::json::parse(in);
  return g;
}

}  // namespace supra::test
