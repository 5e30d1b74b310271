// TrainableModel: the decoder (SUPRA or softmax teacher) with a backward pass, over fp32 master
// parameters. The forward pass is inference's (Transformer::run over a batch of sequences from
// empty states, the parameters viewed as its weights) with a tape of what the backward pass
// reads. One call runs a batch of packed rows, computes the next-token loss and accumulates the
// gradient of every parameter.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "supra/config.h"
#include "supra/state.h"
#include "supra/token.h"
#include "supra/train.h"  // ComputePrecision
#include "train/parameters.h"

namespace supra::train {

// Terms of the loss, each a mean over the B·T predicted positions (spec §8.2).
struct LossTerms {
  double loss = 0;  // ce + z_loss
  double ce = 0;
  double z_loss = 0;  // coefficient · mean(logsumexp²)
  std::int64_t positions = 0;
};

class TrainableModel {
 public:
  // Validates names and shapes against the config (same rules and messages as inference).
  // Buffers inference ignores (rotary_emb.inv_freq, ...) are dropped. With tied embeddings a
  // stored output matrix equal to the embedding is dropped too, so the two stay one tensor
  // while training; a differing one stays a separate parameter, as inference binds it.
  TrainableModel(ModelConfig config, ParameterSet params);
  // Loads config.json and the weights of a folder (any stored float dtype → float32).
  static TrainableModel load(const std::filesystem::path& folder);

  const ModelConfig& config() const { return config_; }
  ParameterSet& parameters() { return params_; }
  const ParameterSet& parameters() const { return params_; }

  // `tokens` holds B rows of T+1 ids; row b predicts tokens[b][1..T] from tokens[b][0..T-1].
  // Adds d(loss)/d(parameter) into `grads` (same names and shapes; the caller zeroes it) and
  // returns the loss terms. Thread-safe for concurrent calls with different `grads`.
  LossTerms forward_backward(std::span<const TokenId> tokens, std::int64_t B, std::int64_t T, double z_loss_coef,
                             ParameterSet& grads, ComputePrecision precision = ComputePrecision::F32) const;

  // The same loss without gradients (validation).
  LossTerms loss(std::span<const TokenId> tokens, std::int64_t B, std::int64_t T, double z_loss_coef,
                 ComputePrecision precision = ComputePrecision::F32) const;

  // Float32 logits [B, T, V] of B rows of T input ids (parallel mode, from an empty state).
  std::vector<float> logits(std::span<const TokenId> inputs, std::int64_t B, std::int64_t T,
                            ComputePrecision precision = ComputePrecision::F32) const;

  struct Layout;  // where each weight of the architecture lives in params_ (trainable_model.cpp)

 private:
  ModelConfig config_;
  ParameterSet params_;
  std::shared_ptr<const Layout> layout_;
};

}  // namespace supra::train
