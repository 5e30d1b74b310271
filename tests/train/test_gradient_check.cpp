// Gradients of the configurations the training goldens do not cover (MHA with the shared
// query/key kernel and qk-norm, dv ≠ D/H; no rotary with dqk ≠ D/H; an HF Llama folder with
// tied embeddings), against central differences of the loss. The forward pass is float32, so
// the check uses directional derivatives of whole tensors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "test_support.h"
#include "train/trainable_model.h"

namespace supra::test {
namespace {

class GradientCheck : public ::testing::TestWithParam<std::string> {};

TEST_P(GradientCheck, DirectionalDerivativesMatchFiniteDifferences) {
  const std::string& name = GetParam();
  const auto folder = model_folder(name);
  auto model = train::TrainableModel::load(folder);
  constexpr std::int64_t B = 1, T = 24;
  constexpr double z = 1e-3;
  std::mt19937 rng(3);
  std::vector<TokenId> tokens(B * (T + 1));
  for (auto& t : tokens) t = static_cast<TokenId>(rng() % static_cast<unsigned>(model.config().vocab_size));
  train::ParameterSet grads = model.parameters().zeros_like();
  model.forward_backward(tokens, B, T, z, grads);

  // Directional derivatives per tensor, along its gradient and along a random ±1 direction
  // (both scaled so the largest entry moves by h): moving many entries at once averages out
  // the ReLU kinks that a single-entry difference can straddle.
  for (train::Parameter& p : model.parameters().all()) {
    const std::vector<float>& g = grads.at(p.name).data;
    double g_max = 0, g_l1 = 0;
    for (float x : g) g_max = std::max(g_max, double(std::abs(x))), g_l1 += std::abs(x);
    if (g_max == 0) continue;  // e.g. embedding rows of absent tokens only
    std::vector<float> along_g(g.size()), random_sign(g.size());
    for (std::size_t i = 0; i < g.size(); ++i) {
      along_g[i] = float(g[i] / g_max);
      random_sign[i] = rng() % 2 ? 1.0f : -1.0f;
    }
    for (const auto* u : {&along_g, &random_sign}) {
      const std::vector<float> original = p.data;
      const float h = 1e-3f;
      double predicted = 0;
      for (std::size_t i = 0; i < g.size(); ++i) predicted += double(g[i]) * (*u)[i];
      for (std::size_t i = 0; i < g.size(); ++i) p.data[i] = original[i] + h * (*u)[i];
      const double up = model.loss(tokens, B, T, z).loss;
      for (std::size_t i = 0; i < g.size(); ++i) p.data[i] = original[i] - h * (*u)[i];
      const double down = model.loss(tokens, B, T, z).loss;
      p.data = original;
      const double fd = (up - down) / (2.0 * double(h));
      // Along g the derivative is Σg²/max|g| > 0 (2 %: kinks); along ±1 it is Σ±g, which may
      // nearly cancel, so its error is judged against Σ|g| (0.5 %).
      const double tol = u == &along_g ? 0.02 * std::abs(fd) : 0.005 * g_l1;
      EXPECT_NEAR(predicted, fd, tol + 1e-6) << name << " " << p.name << (u == &along_g ? " along g" : " random");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, GradientCheck,
                         ::testing::Values("supra_mha_qknorm", "supra_nope_wide", "stories260K"));

}  // namespace
}  // namespace supra::test
