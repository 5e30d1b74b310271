#include "train/scratch_init.h"

#include <cmath>
#include <numbers>
#include <string>

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

bool ends_with(const std::string& s, const std::string& tail) { return s.ends_with(tail); }

// The layer index of "model.layers.<i>.…".
int layer_of(const std::string& name) {
  const std::string prefix = "model.layers.";
  if (!name.starts_with(prefix)) throw Error("scratch init: " + name + " is not a layer tensor");
  return std::stoi(name.substr(prefix.size()));
}

}  // namespace

void initialize_from_scratch(ParameterSet& params, const ModelConfig& config, std::uint64_t seed) {
  SplitMix64 rng(derive_seed(seed, 0x5C2A7C4));
  const double d_sigma = 1.0 / std::sqrt(static_cast<double>(config.dim));
  const double f_sigma = 1.0 / std::sqrt(static_cast<double>(config.ffn_dim));
  for (Parameter& p : params.all()) {
    const std::string& n = p.name;
    if (n.find("._totrain_") != std::string::npos) continue;
    if (ends_with(n, "norm.weight")) {
      std::fill(p.data.begin(), p.data.end(), 1.0f);
    } else if (ends_with(n, "tok_embeddings.weight") || ends_with(n, "output.weight") ||
               ends_with(n, "attention.in_proj.weight") || ends_with(n, "feed_forward.w12.weight")) {
      fill_truncated_normal(p, d_sigma, rng);
    } else if (ends_with(n, "attention.out_proj.weight")) {
      fill_truncated_normal(p, d_sigma / std::sqrt(2.0 * (layer_of(n) + 1)), rng);
    } else if (ends_with(n, "feed_forward.w3.weight")) {
      fill_truncated_normal(p, f_sigma / std::sqrt(2.0 * (layer_of(n) + 1)), rng);
    } else {
      throw Error("scratch init: no rule for tensor " + n);
    }
  }
}

}  // namespace supra::train
