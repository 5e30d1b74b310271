// One training golden (fixtures/golden/train/<name>): the model folder, the batch, the
// reference gradients and parameters after each AdamW step, and train.json.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "supra/tokenizer.h"
#include "train/parameters.h"

namespace supra::test {

struct TrainGolden {
  std::filesystem::path model_dir;
  std::int64_t B = 0, T = 0;         // the batch: B rows of T+1 tokens
  std::vector<TokenId> tokens;       // [B, T+1]
  std::vector<float> logits;         // [B, T, V] at the initial parameters
  train::ParameterSet grads, params_step1, params_step2;
  nlohmann::json info;               // train.json
};

// Loads fixtures/golden/train/<name> from `shared` (the ../shared folder).
TrainGolden load_train_golden(const std::filesystem::path& shared, const std::string& name);

}  // namespace supra::test
