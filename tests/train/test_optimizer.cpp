// Clipping, AdamW and the LR schedule against their formulas (README of the training goldens,
// spec §8.3) computed in double; the parameter-binding rules of TrainableModel.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "supra/error.h"
#include "test_support.h"
#include "train/optimizer.h"
#include "train/trainable_model.h"

namespace supra::test {
namespace {

using train::ParameterSet;

ParameterSet random_set(unsigned seed, float scale) {
  ParameterSet s;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  s.add("a", {3, 5});
  s.add("b", {7});
  s.add("c", {1, 1, 2});
  for (train::Parameter& p : s.all())
    for (float& x : p.data) x = dist(rng);
  return s;
}

TEST(Optimizer, GlobalNormAndClip) {
  ParameterSet g = random_set(1, 2.0f);
  double sum = 0;
  for (const auto& p : g.all())
    for (float x : p.data) sum += double(x) * x;
  EXPECT_NEAR(train::global_grad_norm(g), std::sqrt(sum), 1e-12);

  const ParameterSet before = g;
  const float coef = train::clip_grad_norm(g, 0.5);
  EXPECT_NEAR(coef, 0.5 / (std::sqrt(sum) + 1e-6), 1e-7);
  EXPECT_NEAR(train::global_grad_norm(g), 0.5, 1e-6);
  EXPECT_FLOAT_EQ(g.at("b").data[3], before.at("b").data[3] * coef);

  ParameterSet small = before;
  EXPECT_EQ(train::clip_grad_norm(small, 1e3), 1.0f);  // below the limit: untouched
  EXPECT_EQ(small.at("a").data, before.at("a").data);
}

TEST(Optimizer, AdamWMatchesTheFormulaOverThreeSteps) {
  ParameterSet params = random_set(2, 1.0f);
  ParameterSet ref = params;  // double-precision twin, kept in float storage per step
  std::vector<std::vector<double>> m(3), v(3), p(3);
  for (std::size_t i = 0; i < 3; ++i) {
    p[i].assign(ref.all()[i].data.begin(), ref.all()[i].data.end());
    m[i].assign(p[i].size(), 0.0);
    v[i].assign(p[i].size(), 0.0);
  }
  const train::AdamWConfig cfg{0.9, 0.95, 1e-8, 0.1};
  train::AdamW adam(params, cfg);
  const double lr = 1e-2;
  for (int step = 1; step <= 3; ++step) {
    const ParameterSet grads = random_set(10 + step, 0.3f);
    adam.step(params, grads, lr);
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = 0; j < p[i].size(); ++j) {
        const double g = grads.all()[i].data[j];
        p[i][j] *= 1 - lr * cfg.weight_decay;
        m[i][j] = cfg.beta1 * m[i][j] + (1 - cfg.beta1) * g;
        v[i][j] = cfg.beta2 * v[i][j] + (1 - cfg.beta2) * g * g;
        const double denom = std::sqrt(v[i][j]) / std::sqrt(1 - std::pow(cfg.beta2, step)) + cfg.eps;
        p[i][j] -= lr / (1 - std::pow(cfg.beta1, step)) * m[i][j] / denom;
      }
  }
  EXPECT_EQ(adam.steps_taken(), 3);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < p[i].size(); ++j) {
      EXPECT_NEAR(params.all()[i].data[j], p[i][j], 1e-6) << params.all()[i].name << "[" << j << "]";
      EXPECT_NEAR(adam.first_moment().all()[i].data[j], m[i][j], 1e-7);
      EXPECT_NEAR(adam.second_moment().all()[i].data[j], v[i][j], 1e-8);
    }
}

TEST(Optimizer, SetStateRestoresAndValidates) {
  ParameterSet params = random_set(3, 1.0f);
  train::AdamW a(params, {});
  const ParameterSet grads = random_set(4, 0.1f);
  a.step(params, grads, 1e-3);
  train::AdamW b(params, {});
  b.set_state(a.steps_taken(), a.first_moment(), a.second_moment());
  ParameterSet pa = params, pb = params;
  a.step(pa, grads, 1e-3);
  b.step(pb, grads, 1e-3);
  EXPECT_EQ(pa.at("a").data, pb.at("a").data);

  ParameterSet wrong;
  wrong.add("a", {3, 5});
  EXPECT_THROW(b.set_state(1, wrong, wrong), Error);
  EXPECT_THROW(b.set_state(-1, a.first_moment(), a.second_moment()), Error);
  EXPECT_THROW(b.step(params, wrong, 1e-3), Error);
}

TEST(Optimizer, LrScheduleWarmupThenCosine) {
  const train::LrSchedule s{3e-4, 1e-5, 10, 110};
  EXPECT_DOUBLE_EQ(s.at(0), 3e-4 * 1 / 10);
  EXPECT_DOUBLE_EQ(s.at(9), 3e-4);
  EXPECT_DOUBLE_EQ(s.at(10), 3e-4);  // cosine starts at the peak
  EXPECT_NEAR(s.at(60), 1e-5 + 0.5 * (3e-4 - 1e-5), 1e-15);
  EXPECT_NEAR(s.at(35), 1e-5 + 0.5 * (1 + std::cos(std::numbers::pi * 0.25)) * (3e-4 - 1e-5), 1e-15);
  EXPECT_NEAR(s.at(110), 1e-5, 1e-15);
  EXPECT_NEAR(s.at(500), 1e-5, 1e-15);  // stays at the end LR past total_steps
  const train::LrSchedule no_warmup{1e-3, 0.0, 0, 4};
  EXPECT_DOUBLE_EQ(no_warmup.at(0), 1e-3);
}

TEST(TrainableModelBinding, RejectsBadParametersAndDropsTiedDuplicate) {
  const auto folder = model_folder("stories260K");
  const auto model = train::TrainableModel::load(folder);
  // Tied and stored twice with equal values: trained as one tensor.
  EXPECT_FALSE(model.parameters().has("lm_head.weight"));
  EXPECT_TRUE(model.parameters().has("model.embed_tokens.weight"));

  const ModelConfig config = model.config();
  ParameterSet bad = model.parameters();
  bad.at("model.layers.1.self_attn.k_proj.weight").shape = {64, 32};
  try {
    train::TrainableModel m(config, bad);
    FAIL() << "no error for a mis-shaped tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.1.self_attn.k_proj.weight has shape [64, 32], expected [32, 64]"),
              std::string::npos)
        << e.what();
  }
  ParameterSet extra = model.parameters();
  extra.add("model.layers.0.something", {2});
  EXPECT_THROW(train::TrainableModel(config, extra), Error);

  ParameterSet grads = model.parameters().zeros_like();
  const std::vector<TokenId> tokens(2 * 5, 3);
  EXPECT_THROW(model.forward_backward(tokens, 2, 5, 0.0, grads), Error);  // needs B·(T+1) ids
  ParameterSet wrong_grads;
  EXPECT_THROW(model.forward_backward(tokens, 2, 4, 0.0, wrong_grads), Error);
}

}  // namespace
}  // namespace supra::test
