// The training forward pass against the inference engine. Both run Transformer::run; this
// checks what training adds: its parameters viewed as inference weights (OpenLM and HF names,
// fused tensors, a tied head) and a batch of rows fused into one product per matrix, whose
// logits equal supra::Model's parallel-mode logits of each row alone on every golden model
// (GQA, qk-norm, no rotary, the softmax teacher) and an HF Llama folder with tied embeddings.
// BF16 compute stays close to F32.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "supra/model.h"
#include "test_support.h"
#include "train/trainable_model.h"

namespace supra::test {
namespace {

std::vector<TokenId> random_ids(std::int64_t n, int vocab, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(0, vocab - 1);
  std::vector<TokenId> ids(static_cast<std::size_t>(n));
  for (auto& id : ids) id = dist(rng);
  return ids;
}



class ForwardMatch : public ::testing::TestWithParam<std::string> {};

TEST_P(ForwardMatch, LogitsEqualInferenceParallelMode) {
  const auto folder = model_folder(GetParam());
  const auto trainable = train::TrainableModel::load(folder);
  const Model model = Model::load(folder);
  const int V = model.config().vocab_size;
  constexpr std::int64_t B = 2, T = 70;  // crosses the 64-token attention block
  const std::vector<TokenId> ids = random_ids(B * T, V, 7);
  const std::vector<float> got = trainable.logits(ids, B, T);
  for (std::int64_t b = 0; b < B; ++b) {
    State state = model.new_state();
    const std::vector<float> ref =
        model.forward(std::span(ids).subspan(static_cast<std::size_t>(b * T), T), state, Mode::Parallel,
                      LogitsWanted::All);
    const Diff d = compare(std::span(got).subspan(static_cast<std::size_t>(b * T * V), ref.size()), ref);
    EXPECT_LE(d.rel(), 1e-5) << GetParam() << " row " << b << ": max|Δ| " << d.max_abs;
  }
}

TEST_P(ForwardMatch, Bf16ComputeIsCloseToF32) {
  const auto trainable = train::TrainableModel::load(model_folder(GetParam()));
  const int V = trainable.config().vocab_size;
  constexpr std::int64_t B = 2, T = 40;
  const std::vector<TokenId> tokens = random_ids(B * (T + 1), V, 11);
  train::ParameterSet g32 = trainable.parameters().zeros_like(), g16 = trainable.parameters().zeros_like();
  const auto l32 = trainable.forward_backward(tokens, B, T, 1e-4, g32, train::ComputePrecision::F32);
  const auto l16 = trainable.forward_backward(tokens, B, T, 1e-4, g16, train::ComputePrecision::BF16);
  EXPECT_NEAR(l16.loss, l32.loss, 1e-2 * l32.loss);
  EXPECT_NE(l16.loss, l32.loss);  // the rounding did happen
  // bf16 inputs carry 2^-9 relative rounding, which the small feature-map gradients of these
  // tiny random models amplify; each tensor's gradient must still point the same way.
  for (const train::Parameter& p : g32.all()) {
    double dot = 0, n32 = 0, n16 = 0;
    const std::vector<float>& q = g16.at(p.name).data;
    for (std::size_t i = 0; i < p.data.size(); ++i) {
      dot += double(p.data[i]) * q[i];
      n32 += double(p.data[i]) * p.data[i];
      n16 += double(q[i]) * q[i];
    }
    EXPECT_GT(dot / std::sqrt(n32 * n16), 0.95) << GetParam() << " " << p.name;
  }
}

// A thread keeps its forward buffers and tape from call to call: a call after a larger one
// (longer buffers holding the larger call's values) gives bit for bit what it gave before.
TEST_P(ForwardMatch, BuffersKeptFromALargerCallChangeNothing) {
  const auto trainable = train::TrainableModel::load(model_folder(GetParam()));
  const int V = trainable.config().vocab_size;
  const std::vector<TokenId> small = random_ids(2 * 41, V, 3), large = random_ids(3 * 71, V, 4);
  train::ParameterSet first = trainable.parameters().zeros_like(), again = trainable.parameters().zeros_like(),
                      other = trainable.parameters().zeros_like();
  const auto l1 = trainable.forward_backward(small, 2, 40, 1e-4, first);
  trainable.forward_backward(large, 3, 70, 1e-4, other);
  const auto l2 = trainable.forward_backward(small, 2, 40, 1e-4, again);
  EXPECT_EQ(l1.loss, l2.loss);
  for (const train::Parameter& p : first.all()) EXPECT_EQ(p.data, again.at(p.name).data) << GetParam() << " " << p.name;
}

INSTANTIATE_TEST_SUITE_P(Models, ForwardMatch,
                         ::testing::Values("supra_gqa", "supra_mha_qknorm", "supra_nope_wide", "mistral_softmax",
                                           "stories260K"));

}  // namespace
}  // namespace supra::test
