#include "golden.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace supra::test {

Golden::Golden(const std::filesystem::path& dir)
    : tensors_(Checkpoint::open_file(dir / "golden.safetensors")), json_path_(dir / "golden.json") {}

std::vector<float> Golden::floats(const std::string& name) const { return to_f32(tensors_.get(name)); }

std::vector<std::int64_t> Golden::shape(const std::string& name) const { return tensors_.get(name).shape; }

std::vector<TokenId> Golden::ids(const std::string& name, std::int64_t b) const {
  const TensorView& t = tensors_.get(name);
  const std::vector<std::int64_t> all = to_i64(t);
  const std::int64_t T = t.shape.at(1);
  return std::vector<TokenId>(all.begin() + b * T, all.begin() + (b + 1) * T);
}

std::vector<float> Golden::batch_row(const std::string& name, std::int64_t b) const {
  const std::vector<float> all = floats(name);
  const std::size_t per = all.size() / static_cast<std::size_t>(shape(name).at(0));
  return std::vector<float>(all.begin() + static_cast<std::ptrdiff_t>(b * per),
                            all.begin() + static_cast<std::ptrdiff_t>((b + 1) * per));
}

std::vector<int> Golden::schedule(const std::string& name) const {
  std::ifstream in(json_path_);
  return nlohmann::json::parse(in).at(name).get<std::vector<int>>();
}

std::vector<float> heads_to_tokens(const std::vector<float>& x, std::int64_t H, std::int64_t T, std::int64_t d) {
  std::vector<float> y(x.size());
  for (std::int64_t h = 0; h < H; ++h)
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t e = 0; e < d; ++e) y[(t * H + h) * d + e] = x[(h * T + t) * d + e];
  return y;
}

}  // namespace supra::test
