#include "train/scratch_init.h"

#include <cmath>
#include <map>
#include <numbers>
#include <string>

#include "model/tensor_table.h"
#include "supra/error.h"
#include "train/random.h"

namespace supra::train {
namespace {

// Normal(0, σ) truncated to ±3σ by redrawing, from two uniforms (Box–Muller).
void fill_truncated_normal(Parameter& p, double sigma, SplitMix64& rng) {
  for (float& x : p.data) {
    double z;
    do {
      const double u1 = (static_cast<double>(rng.next() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
      const double u2 = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
      z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    } while (std::abs(z) > 3.0);
    x = static_cast<float>(z * sigma);
  }
}

}  // namespace

void initialize_from_scratch(ParameterSet& params, const ModelConfig& config, std::uint64_t seed) {
  SplitMix64 rng(derive_seed(seed, 0x5C2A7C4));
  const TensorNaming naming = naming_for(config, false);
  const std::string prefix = stored_prefix(naming, [&](const std::string& name) { return params.has(name); });
  std::map<std::string, TensorEntry> rule;
  for (TensorEntry& e : tensor_table(config, naming)) rule.emplace(prefix + e.name, std::move(e));
  for (Parameter& p : params.all()) {  // in the set's order, which fixes the draws of each tensor
    const auto it = rule.find(p.name);
    if (it == rule.end()) throw Error("scratch init: no rule for tensor " + p.name);
    const TensorEntry& e = it->second;
    const double sigma = 1.0 / std::sqrt(static_cast<double>(e.fan_in));
    switch (e.init) {
      case TensorInit::Ones: std::fill(p.data.begin(), p.data.end(), 1.0f); break;
      case TensorInit::Normal: fill_truncated_normal(p, sigma, rng); break;
      case TensorInit::ResidualNormal: fill_truncated_normal(p, sigma / std::sqrt(2.0 * (e.layer + 1)), rng); break;
      case TensorInit::LinearUniform: break;  // the kernel layers keep their nn.Linear initialisation
    }
  }
}

}  // namespace supra::train
